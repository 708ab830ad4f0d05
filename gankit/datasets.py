"""The data-set contract and the in-memory data that training draws batches from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, ClassVar

from .config import describe as describe_fields


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know of the data to build itself.

    ``kind`` is ``"image"`` (``channels`` x ``size`` x ``size``) or ``"vector"``
    (``dim`` numbers per sample).
    """

    kind: str = "image"
    channels: int = 3
    size: int = 64
    dim: int = 0
    name: str = ""
    #: the class names of a class-conditional run (``gankit train --conditional``), in
    #: label order; empty for every other run. ``build()`` and ``check()`` read the number
    #: of classes as ``spec.num_classes``
    classes: tuple[str, ...] = ()

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.dim,) if self.kind == "vector" else (self.channels, self.size, self.size)

    @property
    def num_classes(self) -> int:
        """The number of classes a conditional model builds for (0: unconditional)."""
        return len(self.classes)

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.classes:  # a conditional run's; others keep the metadata they always had
            d["classes"] = list(self.classes)
        else:
            del d["classes"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DataSpec":
        out = {k: d[k] for k in ("kind", "channels", "size", "dim", "name") if k in d}
        if d.get("classes"):
            out["classes"] = tuple(str(c) for c in d["classes"])
        return cls(**out)


@dataclass
class NoOptions:
    """The options of a data set that declares none."""


@dataclass
class LoadOptions:
    """What ``gankit train`` passes to :meth:`Dataset.load`.

    ``config`` is an instance of the data set's ``Config`` with the user's
    ``--set data.KEY=VALUE`` applied; ``seed`` is the run's ``--seed`` (for data sets
    drawn at random); ``extra`` holds other options of the run (``download``, ``cache``,
    models' own flags).
    """

    path: str | None = None
    image_size: int | None = None
    grayscale: str = "auto"
    download: bool = False
    cache: bool = True
    train: bool = True
    seed: int = 0
    extra: dict = field(default_factory=dict)
    warn: Callable[[str], None] | None = None
    progress: Any = None
    config: Any = None
    labels: str = "auto"


@dataclass
class Data:
    """Decoded samples kept in memory.

    ``samples`` is a torch tensor: uint8 (N, C, H, W) for images (cached once, never as
    float), float32 (N, D) for vectors already in model units. ``names`` optionally
    names the source files. ``meta`` is free-form, e.g. mode centres for 2-D sets.

    Labelled data also set ``labels``, an integer tensor (N,) with one class index per
    sample (0 to ``len(classes) - 1``), and ``classes``, the class names in index order;
    unlabelled data leave both empty. A class-conditional run trains on them.
    """

    samples: Any
    spec: DataSpec
    names: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    labels: Any = None
    classes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.samples.shape[0])

    @property
    def labelled(self) -> bool:
        """Whether the samples carry class labels."""
        return self.labels is not None and bool(self.classes)

    def class_counts(self) -> list[int]:
        """Samples per class, in class order (empty for unlabelled data)."""
        if not self.labelled:
            return []
        import torch  # torch: only for labelled data, which hold a tensor already

        counts = torch.bincount(self.labels.reshape(-1).long().clamp(0, len(self.classes) - 1),
                                minlength=len(self.classes))
        return [int(c) for c in counts.tolist()]


class Dataset:
    """A named data source. Subclass it and implement :meth:`load`.

    ``needs_path`` says whether ``--data PATH`` is required; ``kind`` is ``"image"`` or
    ``"vector"``.
    """

    name: str = ""
    summary: str = ""
    kind: str = "image"
    needs_path: bool = False
    default_size: int | None = None
    #: random horizontal flips keep what the images mean (False for digits and text: a
    #: mirrored 7 is not a 7); training flips only when this and ``--no-flip`` allow
    flip: bool = True
    #: the data set's own options, a dataclass whose fields (each with a default and
    #: ``metadata={"help": ...}``) are set with ``gankit train --set data.KEY=VALUE``
    Config: ClassVar[type] = NoOptions
    #: the class names of its labels when they are known before loading (MNIST's digits,
    #: the sushi kinds); a data set whose classes come from its files leaves it empty
    classes: ClassVar[tuple] = ()
    #: training options this data set suggests (e.g. ``{"steps": 16000, "lr": 5e-4}``,
    #: ``"decay_from"``), used unless the user sets them
    suggested: ClassVar[dict] = {}

    def load(self, options: LoadOptions) -> Data:
        raise NotImplementedError

    def describe(self) -> dict:
        return {
            "name": self.name,
            "summary": self.summary,
            "kind": self.kind,
            "needs_path": self.needs_path,
            "flip": self.kind == "image" and bool(self.flip),
            "classes": [str(c) for c in self.classes],
            "plugin": getattr(self, "plugin", None),
            "options": describe(self.Config),
            "suggested": dict(self.suggested),
        }


def describe(cls) -> list[dict]:
    return describe_fields(cls)
