"""Measures that know no modality: how alike two distributions of numbers are
(``distributions``), set statistics over items (``sets``: NDB, FID, KID), and what a judge of
one modality's items provides (``judge``)."""
