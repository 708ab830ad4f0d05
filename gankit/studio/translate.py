"""The translation side: an uploaded picture or a canvas drawing A->B and back."""

from __future__ import annotations

from ..errors import UsageError
from ..models import TRANSLATION
from ..translation import translate_image as translate_at
from .loaded import Loaded
from .pictures import data_url, pil_png_bytes
from .uploads import decode_upload
from .validate import BadRequest

MAX_ASPECT = 4  # uploaded images wider than 4:1 are centre-cropped to it


class Translation:
    """Part of :class:`~gankit.studio.app.Studio`: translation runs."""

    def translate(self, run_id, data: bytes, direction: str, client=None) -> dict:
        entry = self.catalog.get(run_id)

        def job():
            loaded = self._load(entry, refresh=True)
            if loaded.model.kind != TRANSLATION:
                raise BadRequest(f"run '{entry.id}' is not a translation model "
                                 f"('{loaded.model.name}' is {loaded.model.kind})", 400)
            img = decode_upload(data, loaded.spec.channels)
            other = "b2a" if direction == "a2b" else "a2b"
            work = prepare(img, loaded.spec.size)
            out = translate_image(loaded, work, direction, self._dev())
            back = (translate_image(loaded, out, other, self._dev())
                    if other in translations(loaded.model) else None)
            return {"run": entry.id, "step": loaded.checkpoint.step, "direction": direction,
                    "size": list(work.size), "input": data_url(pil_png_bytes(work)),
                    "output": data_url(pil_png_bytes(out)),
                    "back": data_url(pil_png_bytes(back)) if back is not None else None,
                    "command": " ".join(["gankit", "translate", self._target_text(entry),
                                         "IMAGE", "--direction", direction])}

        return self.worker.submit(job, channel=client and f"{client}:translate")


def translations(model) -> tuple:
    """The directions a translation model translates ("a2b", and "b2a" for two-way ones)."""
    return tuple(d for d in ("a2b", "b2a") if d in tuple(getattr(model, "directions", ())))


def prepare(img, size: int):
    """The shorter side to the model's ``size`` (aspect kept, at most MAX_ASPECT:1 after a
    centre crop), as `gankit translate` does by default."""
    from PIL import Image

    w, h = img.size
    if max(w, h) > MAX_ASPECT * min(w, h):
        if w > h:
            cw, ch = MAX_ASPECT * h, h
        else:
            cw, ch = w, MAX_ASPECT * w
        left, top = (w - cw) // 2, (h - ch) // 2
        img = img.crop((left, top, left + cw, top + ch))
        w, h = img.size
    s = size / min(w, h)
    work = (max(1, round(w * s)), max(1, round(h * s)))
    return img if img.size == work else img.resize(work, Image.Resampling.LANCZOS,
                                                   reducing_gap=3.0)


def translate_image(loaded: Loaded, img, direction: str, device):
    """A Pillow image through the model's ``translate`` at its own size (the same code as
    ``gankit translate``) -> a Pillow image of the same size."""
    model = loaded.model
    try:
        return translate_at(model, loaded.nets, img, direction, img.size,
                            int(model.size_multiple(loaded.config, loaded.spec)), device)
    except UsageError as exc:
        raise BadRequest(str(exc)) from None
