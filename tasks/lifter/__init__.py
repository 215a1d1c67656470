"""The lifter's pieces, shared by `train_lifter`, `evaluate`, `ablation` and ``pose3d predict``:
the `lifting` stage's rows as they read them (`rows`) and a trained lifter rebuilt from its
checkpoint (`inference`)."""
