"""The choices a training run is made of, besides the model's own Config.

Each field that ``gankit train`` sets from a flag says so in its metadata (:func:`flag`):
the flag, its help, its bounds and whether a resumed run may change it. The command
line, the range checks and the resume rules are generated from it, so a new training
flag is one field here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .config import from_dict

#: a run of more steps than this cannot finish (10^9 steps at 100 steps/s is 116 days)
MAX_STEPS = 10**9
#: samples in the preview grid of `gankit train --grid`
MAX_TRAIN_GRID = 1024


def flag(default, name: str, help: str = "", *, type=None, low=None, high=None,  # noqa: A002
         what: str = "", positive: bool = False, resumable: bool = False,
         show_default: bool = False, choices=None, metavar=None, multiple: bool = False,
         is_flag: bool = False, secondary: str | None = None):
    """A TrainOptions field set by the ``gankit train`` flag ``name``.

    ``type``: the flag's click type (int, float, str); ``low`` / ``high``: the range it is
    checked against (``what`` explains ``high``); ``positive``: a finite number above 0;
    ``resumable``: ``--resume`` may change it without ``--override``; ``show_default``,
    ``choices``, ``metavar``, ``multiple``, ``is_flag`` and ``secondary`` (the off
    switch of an on/off flag, ``--no-flip``) shape the click option."""
    meta = {"flag": name, "help": help, "type": type, "low": low, "high": high, "what": what,
            "positive": positive, "resumable": resumable, "show_default": show_default,
            "choices": choices, "metavar": metavar, "multiple": multiple, "is_flag": is_flag,
            "secondary": secondary}
    return field(default=default, metadata=meta)


@dataclass
class TrainOptions:
    """Everything ``gankit train`` decides besides the model's own Config.

    ``extra`` holds the data options (``download``, ``cache``) and the options that
    models declare for themselves (:attr:`gankit.GANModel.train_flags`, e.g. CycleGAN's
    ``data_b``); ``None`` fields are filled from the model's and the loss's defaults by
    :func:`gankit.train.plan`.
    """

    model: str = "dcgan"
    dataset: str | None = flag(None, "--dataset", "A registered data set (gankit "
                               "list-datasets); default sushi.", type=str)
    data: str | None = flag(None, "--data", "A folder of images (or the files a --dataset "
                            "reads).", type=str)
    #: translation models' second domain; also reachable as ``extra["data_b"]``
    data_b: str | None = None
    image_size: int | None = flag(None, "--image-size", "Side of the square images (default: "
                                  "the data's).", type=int, low=1, high=8192)
    batch_size: int | None = flag(None, "--batch-size", "Samples per step (clamped to the data "
                                  "size).", type=int, low=1, high=1_000_000)
    steps: int | None = flag(None, "--steps", "Total steps to train to (also when resuming).",
                             type=int, low=1, high=MAX_STEPS,
                             what="a run that long cannot finish", resumable=True)
    epochs: float | None = flag(None, "--epochs", "Train this many passes over the data "
                                "instead of --steps.", type=float, positive=True,
                                resumable=True)
    lr: float | None = flag(None, "--lr", "Learning rate (default: the model's or the loss's).",
                            type=float, positive=True)
    betas: tuple[float, float] | None = None
    loss: str | None = flag(None, "--loss", "Adversarial loss (gankit list-losses).", type=str)
    seed: int = flag(0, "--seed", type=int, show_default=True)
    device: str = flag("auto", "--device", "auto, cpu, cuda[:N] or mps.", show_default=True,
                       resumable=True)
    precision: str = flag("auto", "--precision", "auto: bf16 on CUDA (fp16 without bf16) and "
                          "for conv nets on CPUs with native bf16 (AVX512-BF16/AMX); fp32 "
                          "elsewhere.", show_default=True,
                          choices=("auto", "fp32", "bf16", "fp16"))
    out: str = flag("runs", "--out", "Folder that holds runs.", show_default=True,
                    resumable=True)
    name: str | None = flag(None, "--name", "Run folder name (default MODEL-TIMESTAMP).",
                            type=str)
    sample_every: int = flag(250, "--sample-every", type=int, low=0, high=MAX_STEPS,
                             show_default=True, resumable=True)
    checkpoint_every: int = flag(500, "--checkpoint-every", type=int, low=0, high=MAX_STEPS,
                                 show_default=True, resumable=True)
    keep_last: int = flag(5, "--keep-last", "0 keeps every checkpoint.", type=int, low=0,
                          high=MAX_STEPS, show_default=True, resumable=True)
    log_every: int = flag(25, "--log-every", type=int, low=1, high=MAX_STEPS,
                          show_default=True, resumable=True)
    grid: int = flag(64, "--grid", "Samples in the progress grid.", type=int, low=1,
                     high=MAX_TRAIN_GRID, show_default=True)
    #: random horizontal flips; None: on unless the data say otherwise (see plan)
    flip: bool | None = flag(None, "--flip", "Random horizontal flips [default: on, unless "
                             "the data set says mirrored images mean something else or a "
                             "folder looks like text or digits].", secondary="--no-flip")
    grayscale: str = flag("auto", "--grayscale", show_default=True,
                          choices=("auto", "always", "never"))
    channels_last: bool = True
    fused: bool = True
    compile: bool = flag(False, "--compile", "torch.compile the networks; the first step "
                         "compiles (about a minute on a CPU), so it pays only in long runs "
                         "(docs/performance.md).", is_flag=True, resumable=True)
    max_retries: int = flag(3, "--max-retries", "Divergence guard: restores of the last good "
                            "checkpoint (each halving the learning rate) before giving up.",
                            type=int, low=0, high=100, show_default=True, resumable=True)
    timelapse: bool = flag(False, "--timelapse", "Write a GIF of the sample grids at the end.",
                           is_flag=True, resumable=True)
    #: EMA generator half-life in thousands of images (None: auto, 10 for unconditional
    #: models; 0: off)
    ema: float | None = flag(None, "--ema", "EMA generator half-life in thousands of images "
                             "[default: 10 for unconditional models]; 0 turns it off. Samples "
                             "come from the EMA copy.", type=float, metavar="KIMG")
    #: DiffAugment policy before D ("color,translation,cutout", "none"; None: auto, on
    #: below AUGMENT_BELOW images), its probability, and ADA's target (adaptive p)
    augment: str | None = flag(None, "--augment", "Differentiable augmentation before D: "
                               "color,translation,cutout (any of them) or none [default: all "
                               "three below 5,000 images, else none].", type=str,
                               metavar="POLICY")
    augment_p: float | None = flag(None, "--augment-p", "Probability of each augmentation "
                                   "[default: 1; with --ada-target it starts at 0 and "
                                   "adapts].", type=float)
    ada_target: float | None = flag(None, "--ada-target", "Adapt the augmentation probability "
                                    "so that E[sign(D(real))] stays at this value "
                                    "(StyleGAN2-ADA: 0.6).", type=float)
    #: class labels: where an image folder's come from (one subfolder per class), whether
    #: the run trains a class-conditional model on them, and class-balanced batches
    labels: str = flag("auto", "--labels", "Class labels of an image folder: folders (one "
                       "subfolder per class), none, or auto (folders when every image sits "
                       "in one of 2 to 100 subfolders).", show_default=True,
                       choices=("auto", "folders", "none"))
    conditional: bool = flag(False, "--conditional", "Train a class-conditional model on the "
                             "data's labels (models that can be: gankit list-models).",
                             is_flag=True)
    balance_classes: bool = flag(False, "--balance-classes", "Draw every class equally often "
                                 "(conditional runs).", is_flag=True)
    #: observers to switch on, e.g. ("tensorboard",): plugins read ``trainer.options.log``
    log: tuple[str, ...] = flag((), "--log", "Switch on a logging plugin for this run, e.g. "
                                "tensorboard; repeatable.", multiple=True, metavar="NAME",
                                resumable=True)
    #: the data set's own options (``--set data.KEY=VALUE``), as given
    data_options: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

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


def flag_fields() -> list:
    """The TrainOptions fields ``gankit train`` sets from a flag, in field order."""
    return [f for f in dataclasses.fields(TrainOptions) if "flag" in f.metadata]


#: options that a resumed run may change without --override
TrainOptions.RESUMABLE = tuple(f.name for f in flag_fields() if f.metadata["resumable"])


@dataclass(frozen=True)
class Flag:
    """A ``gankit train`` flag that a model declares for itself (``GANModel.train_flags``).

    Its value lands in ``options.extra[dest]`` (``None`` when not given), is recorded in
    config.json and checkpoints, and is listed by ``gankit train --help``. Two models
    declaring the same flag share it.
    """

    name: str  # e.g. "--data-b"
    dest: str  # key in TrainOptions.extra, e.g. "data_b"
    type: type = str
    help: str = ""
