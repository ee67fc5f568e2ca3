"""The training core: what every modality and every model family share.

``spec`` (tensor sizes), ``adapter`` (the Adapter protocol a modality implements), ``store``
(prepared data on disk) and ``samplers`` (batches), ``objective`` (what a family gives the
Trainer), ``trainer`` (the one training loop), ``checkpoint``, ``distributed``, ``scalars``,
``config`` (the core's sections and the config machinery).

Nothing here imports a modality, the evaluation, the library face or the CLI: they are
plugged in by the composition root (``muse_gan.assembly``, ``muse_gan.training``); a test
(tests/unit/test_layers.py) keeps it so.
"""
