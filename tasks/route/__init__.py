"""The 2D route's pieces, shared by `train_detector`, `train_cpn`, `infer_2d`, `evaluate` and
``pose3d predict``: labelled frames for the 2D networks (`frames`), a trained detector
(`detector`) and a trained CPN (`cpn`) rebuilt from their checkpoints, and the route on images:
detect, crop-and-resize, CPN, inverse crop (`images`)."""
