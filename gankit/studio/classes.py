"""The class pick of a class-conditional run: labels to draw with, names to show."""

from __future__ import annotations

from .loaded import Loaded
from .validate import BadRequest


class ClassPick:
    """Part of :class:`~gankit.studio.app.Studio`: a pick ``(a, b, mix)`` of classes."""

    @staticmethod
    def _labels(loaded: Loaded, n: int, pick):
        """The classes of ``n`` samples for a class pick ``(a, b, mix)`` of a conditional
        run: int64 indices, or float class weights when ``mix`` > 0; None for no pick."""
        import torch

        if pick is None:
            return None
        classes = list(getattr(loaded.spec, "classes", ()) or ())
        if not classes:
            raise BadRequest(f"run '{loaded.entry.id}' is not class-conditional; it has no "
                             "classes to pick", 400)
        a, b, mix = pick
        for name, k in (("class", a), ("class_b", b)):
            if k is not None and k >= len(classes):
                raise BadRequest(f"'{name}' {k}: the run has {len(classes)} classes, 0 to "
                                 f"{len(classes) - 1}", 400)
        if b is None or not mix:
            return torch.full((n,), a, dtype=torch.int64)
        w = torch.zeros(n, len(classes))
        w[:, a] += 1 - mix
        w[:, b] += mix
        return w

    @staticmethod
    def _class_names(loaded: Loaded, pick):
        """(name a[, name b, mix]) of a class pick, for the command line."""
        if pick is None:
            return None
        names = loaded.spec.classes
        a, b, mix = pick
        return (names[a],) if b is None or not mix else (names[a], names[b], mix)
