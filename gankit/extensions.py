"""What an export format and an image metric provide, for the registries that plugins
fill through ``register_exporters`` and ``register_metrics`` (gankit's own formats and
metrics are registered the same way). Importing this module imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass
class ExportOptions:
    """``gankit export``'s options, as an exporter receives them."""

    #: uint8 images (N, H, W, C) in 0..255 instead of float32 (N, C, H, W) in [0, 1]
    uint8: bool = False
    #: translation models: "a2b", "b2a" or None (both)
    direction: str | None = None
    #: the seeds the exported file is checked on, and the largest difference allowed
    check_seeds: list = field(default_factory=lambda: list(range(16)))
    tolerance: float = 1e-3
    #: ONNX settings (the ONNX and web formats)
    opset: int = 18
    exporter: str = "auto"
    #: the web format's seeds and onnxruntime-web folder
    web_seeds: list = field(default_factory=lambda: list(range(256)))
    ort_dir: str | None = None


class Exporter:
    """A ``gankit export --format NAME`` output.

    A format that writes one file per generator sets ``suffix`` and implements
    :meth:`write`; gankit picks the paths (``--out`` or ``RUNNAME<suffix>``, one per
    direction of a translation model), works out the inputs and outputs and the metadata,
    and calls :meth:`write` once per generator. A format that writes a whole folder sets
    ``folder = True`` and implements :meth:`export_folder` instead.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    #: the suffix of the file :meth:`write` writes (``".onnx"``)
    suffix: ClassVar[str] = ""
    #: True when the format writes a folder (:meth:`export_folder`)
    folder: ClassVar[bool] = False
    #: Python modules the format needs, checked before the run is loaded
    requires: ClassVar[tuple] = ()

    def check_options(self, options: ExportOptions) -> None:
        """Refuse options that do not apply to this format: raise ``gankit.UsageError``
        naming the flag. Default: ``--ort-dir`` belongs to the web format only."""
        from .errors import UsageError  # only when refusing

        if options.ort_dir is not None and self.name != "web":
            raise UsageError("--ort-dir: only for --format web")

    def prepare(self, source, out, options: ExportOptions):
        """After the run is loaded, before anything is written or the progress bar starts:
        refuse what the format cannot export (raise ``gankit.UsageError`` or
        ``GankitError``); what it returns is given to :meth:`export_folder`."""
        return None

    def write(self, source, path, *, direction, lay, meta, options: ExportOptions,
              progress):
        """Write the generator of ``source`` (one direction) to ``path`` with gankit's
        :func:`~gankit.atomic_write`, after running it on ``options.check_seeds`` and
        comparing it with PyTorch; return the check (an object with ``line()``, one line
        for the summary). ``lay`` describes the inputs and outputs, ``meta`` is the
        metadata to store; call ``progress()`` after each of two stages."""
        raise NotImplementedError(f"export format '{self.name}' writes no single file")

    def export_folder(self, source, prepared, options: ExportOptions, progress) -> tuple:
        """A folder format: write the folder (``prepared`` is what :meth:`prepare`
        returned); return ``(folder, check, extra)`` (``extra``: a dict of numbers for the
        summary); call ``progress()`` after each of three stages."""
        raise NotImplementedError(f"export format '{self.name}' writes no folder")


class Metric:
    """A number (or a few) of ``gankit evaluate`` comparing a run's samples with its
    training images, in one space:

    - ``"pixels"``: ``compute(real, fake, seed=, progress=)`` gets uint8 (N, C, H, W)
      images;
    - ``"features"``: gankit's no-download feature vectors (N, D);
    - ``"inception"``: Inception features, only with ``gankit evaluate --fid``.

    ``compute`` returns ``{key: float}``; the first key is the metric's number (listed in
    the table as ``label`` with ``reading``), a ``KEY_std`` beside a key is shown as its
    ± spread, and every key goes into the eval file's ``metrics``.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    space: ClassVar[str] = "features"
    #: the table's rows: (key, label, how to read it); default one row for ``name``
    rows: ClassVar[tuple] = ()
    #: pixel-space metrics: the progress bar's label (default ``name``)
    progress_label: ClassVar[str] = ""

    def compute(self, real, fake, *, seed: int = 0, progress=None) -> dict:
        raise NotImplementedError

    def table_rows(self) -> tuple:
        return self.rows or ((self.name, self.name, self.summary),)


SPACES = ("pixels", "features", "inception")
