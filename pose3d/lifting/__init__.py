"""The lifter's data, one idea per module.

- `dataset`: `LiftingDataset`, rows of 2D keypoints (px) and root-relative 3D poses (mm);
- `geometry`: the view of each row (root position, world up, camera intrinsics and height);
- `join`: frames table x keypoint cache x cameras -> a `LiftingDataset` (the `lifting` stage);
- `table`: the `lifting` stage's Parquet files (``train.parquet``, ``test.parquet``);
- `mirror`: left-right mirroring of rows, for training flips and the flip test;
- `augment`: new bodies for training rows, seen by each row's own camera;
- `floor`: each ankle's depth from the floor plane, an input of the lifter;
- `normalization`: the standardisation of 2D inputs and 3D targets.
"""
