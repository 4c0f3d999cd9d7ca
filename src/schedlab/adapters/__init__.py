"""Layer 2: thin adapters that drive real frameworks with schedlab schedules (no math of their own).

Import the module you need; nothing here imports a framework at package import time:

- ``schedlab.adapters.torch``: ``ScheduleLR`` and ``PlateauLR`` (PyTorch ``LRScheduler`` subclasses;
  ``PlateauLR`` lives in ``torch_plateau``, group helpers in ``torch_groups``);
- ``schedlab.adapters.interop_torch``: ``from_torch`` (PyTorch scheduler -> schedlab schedule);
- ``schedlab.adapters.keras``, ``keras_callbacks``, ``interop_keras``, ``optax``: Keras 3 and optax;
- ``schedlab.adapters.momentum``, ``units``: momentum cycling and unit checks shared by adapters.
"""
