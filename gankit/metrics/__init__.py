"""Image-quality numbers for trained image runs (``gankit evaluate RUN``).

Pure functions on tensors; nothing here downloads anything, and importing this package
does not import torch (each module imports it inside its functions).

- :mod:`gankit.metrics.swd`: multi-scale sliced Wasserstein distance on Laplacian
  pyramid patches, as in ProGAN (Karras et al. 2018).
- :mod:`gankit.metrics.features`: gankit's no-download feature space, a fixed-seed
  random convolutional net (``FEATURE_SPACE``).
- :mod:`gankit.metrics.distances`: KID, Fréchet distance, precision/recall and nearest
  training neighbours (memorisation) on any feature vectors.
- :mod:`gankit.metrics.inception`: FID/KID with the standard Inception features
  through the optional extra ``gankit[metrics]`` (torch-fidelity).
- :mod:`gankit.metrics.cache`: real-data features cached per data fingerprint.
- :mod:`gankit.metrics.evaluate`: the whole evaluation of one run; :mod:`gankit.metrics.table`
  the tables it prints.

See docs/metrics.md for what each number means and how to compare runs.
"""

from __future__ import annotations
