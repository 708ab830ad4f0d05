"""gankit's own image metrics, registered through ``register_metrics`` like a plugin's.
Importing this module imports no torch; each metric imports its module when it runs."""

from __future__ import annotations

from ..extensions import Metric


class SWD(Metric):
    name = "swd"
    summary = "multi-scale sliced Wasserstein distance on pixel patches (x1e3)"
    space = "pixels"
    rows = (("swd", "SWD x1e3 (pixel patches)", "lower is better"),)
    progress_label = "sliced Wasserstein"

    def compute(self, real, fake, *, seed=0, progress=None):
        from .swd import swd  # torch: when the metric runs

        s = swd(real, fake, seed=seed, progress=progress)
        return {"swd": s["swd"], **{f"swd_{r}": v for r, v in s["levels"].items()}}


class KID(Metric):
    name = "kid"
    summary = "kernel distance in gankit's feature space"
    rows = (("kid", "KID (gankit features)", "lower; ~0: same distribution"),)

    def compute(self, real, fake, *, seed=0, progress=None):
        from .distances import kid  # torch: when the metric runs

        mean, std = kid(real, fake)
        return {"kid": mean, "kid_std": std}


class FrechetDistance(Metric):
    name = "fd"
    summary = "Fréchet distance in gankit's feature space"
    rows = (("fd", "Fréchet distance (gankit features)", "lower is better"),)

    def compute(self, real, fake, *, seed=0, progress=None):
        from .distances import frechet_distance  # torch: when the metric runs

        return {"fd": frechet_distance(real, fake)}


class PrecisionRecall(Metric):
    name = "precision"
    summary = "k-NN precision and recall in gankit's feature space"
    rows = (("precision", "precision", "higher: samples look like data"),
            ("recall", "recall", "higher: data covered by samples"))

    def compute(self, real, fake, *, seed=0, progress=None):
        from .distances import precision_recall  # torch: when the metric runs

        precision, recall = precision_recall(real, fake)
        return {"precision": precision, "recall": recall}


class FID(Metric):
    name = "fid"
    summary = "Fréchet distance on Inception features (--fid)"
    space = "inception"
    rows = (("fid", "FID (Inception)", "lower; compare at equal -n"),)

    def compute(self, real, fake, *, seed=0, progress=None):
        from .distances import frechet_distance  # torch: when the metric runs

        return {"fid": frechet_distance(real, fake)}


class KIDInception(Metric):
    name = "kid_inception"
    summary = "kernel distance on Inception features (--fid)"
    space = "inception"
    rows = (("kid_inception", "KID (Inception)", "lower is better"),)

    def compute(self, real, fake, *, seed=0, progress=None):
        from .distances import kid  # torch: when the metric runs

        mean, std = kid(real, fake)
        return {"kid_inception": mean, "kid_inception_std": std}


def register_metrics(register):
    """gankit's own metrics, in the order of the eval file and the table."""
    for metric in (SWD(), KID(), FrechetDistance(), PrecisionRecall(), FID(), KIDInception()):
        register(metric)
