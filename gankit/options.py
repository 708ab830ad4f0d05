"""The choices a training run is made of, besides the model's own Config."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .config import from_dict

@dataclass
class TrainOptions:
    """Everything ``gankit train`` decides besides the model's own Config.

    ``extra`` holds the data options (``download``, ``cache``) and the options that
    models declare for themselves (:attr:`gankit.GANModel.train_flags`, e.g. CycleGAN's
    ``data_b``); ``None`` fields are filled from the model's and the loss's defaults by
    :func:`gankit.train.plan`.
    """

    model: str = "dcgan"
    dataset: str | None = None
    data: str | None = None
    #: translation models' second domain; also reachable as ``extra["data_b"]``
    data_b: str | None = None
    image_size: int | None = None
    batch_size: int | None = None
    steps: int | None = None
    epochs: float | None = None
    lr: float | None = None
    betas: tuple[float, float] | None = None
    loss: str | None = None
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    out: str = "runs"
    name: str | None = None
    sample_every: int = 250
    checkpoint_every: int = 500
    keep_last: int = 5
    log_every: int = 25
    grid: int = 64
    #: random horizontal flips; None: on unless the data say otherwise (see plan)
    flip: bool | None = None
    grayscale: str = "auto"
    channels_last: bool = True
    fused: bool = True
    compile: bool = False
    max_retries: int = 3
    timelapse: bool = False
    #: EMA generator half-life in thousands of images (None: auto, 10 for unconditional
    #: models; 0: off)
    ema: float | None = None
    #: DiffAugment policy before D ("color,translation,cutout", "none"; None: auto, on
    #: below AUGMENT_BELOW images), its probability, and ADA's target (adaptive p)
    augment: str | None = None
    augment_p: float | None = None
    ada_target: float | None = None
    #: observers to switch on, e.g. ("tensorboard",): plugins read ``trainer.options.log``
    log: tuple[str, ...] = ()
    #: the data set's own options (``--set data.KEY=VALUE``), as given
    data_options: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    # options that a resumed run may change without --override
    RESUMABLE = ("steps", "epochs", "device", "sample_every", "checkpoint_every", "keep_last",
                 "log_every", "out", "timelapse", "compile", "max_retries", "log")

    @classmethod
    def from_saved(cls, doc: dict) -> "TrainOptions":
        """Options as a checkpoint or config.json recorded them (type-checked)."""
        return from_dict(cls, doc, strict=False).normalised()

    def normalised(self) -> "TrainOptions":
        """A copy with tuples where tuples belong and ``data_b`` moved into ``extra``."""
        extra = dict(self.extra)
        if self.data_b and not extra.get("data_b"):
            extra["data_b"] = self.data_b
        return dataclasses.replace(self, data_b=None, extra=extra,
                                   betas=tuple(self.betas) if self.betas else None,
                                   log=tuple(self.log or ()))

    def replace(self, **changes) -> "TrainOptions":
        return dataclasses.replace(self, **changes)
