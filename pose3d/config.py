"""params.yaml -> frozen dataclasses.

Parsed once at each entry point. Unknown keys, missing keys and wrong types fail at once with
the dotted key's name. Overrides use the spelling of ``dvc exp run -S``: ``section.key=value``
(the value is parsed as YAML). This module declares the sections; the generic machinery
(`from_dict`, `to_dict`, `apply_overrides`, `load_raw`) lives in pose3d.config_io and is
re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pose3d.config_io import ConfigError, apply_overrides, from_dict, load_raw, to_dict

__all__ = [  # the sections, and the machinery of pose3d.config_io re-exported
    "AblationConfig",
    "AugmentConfig",
    "CameraSpec",
    "CRConfig",
    "ConfigError",
    "DATASETS",
    "DEVICES",
    "SOURCES",
    "EvaluateConfig",
    "ExtractConfig",
    "GenerateConfig",
    "ImportKeypointsConfig",
    "Infer2DConfig",
    "LifterConfig",
    "LiftingConfig",
    "Params",
    "PathsConfig",
    "TrainCPNConfig",
    "TrainDetectorConfig",
    "TrainLifterConfig",
    "apply_overrides",
    "from_dict",
    "load_params",
    "load_raw",
    "to_dict",
]

# --------------------------------------------------------------------------------------------
# Sections. Each stage reads its own section; `paths` and `seed` are shared.


@dataclass(frozen=True)
class PathsConfig:
    h36m_root: str  # input of `extract`: a Human3.6M tree (3d-pose-baseline and/or release layout)
    challenge_root: str  # input of `extract`: the challenge IMG/POSE layout
    generate: str  # output folder of `generate`
    extract: str  # output folder of `extract`
    import_keypoints: str  # output folder of `import_keypoints` (the keypoint cache)
    train_detector: str  # output folder of `train_detector` (the SSD checkpoint, metrics)
    train_cpn: str  # output folder of `train_cpn` (the CPN checkpoint, metrics)
    infer_2d: str  # output folder of `infer_2d` (the detected keypoint caches)
    lifting: str  # output folder of `lifting` (the lifter's train/test rows)
    train_lifter: str  # output folder of `train_lifter`
    evaluate: str  # output folder of `evaluate`
    ablation: str  # output folder of `ablation`


@dataclass(frozen=True)
class CameraSpec:
    """One synthetic camera: placement around the capture volume and intrinsics."""

    name: str
    azimuth_deg: float
    distance_mm: float
    height_mm: float
    focal_px: float
    k: tuple[float, float, float]
    p: tuple[float, float]


@dataclass(frozen=True)
class GenerateConfig:
    """The embedded synthetic world (pose3d.synth); checked by synth.world.validate_config."""

    h36m_subjects: tuple[str, ...]  # subjects of the Human3.6M tree (S<n>)
    actions: tuple[str, ...]  # of pose3d.synth.motion.ACTIONS, optionally "<Action> <take>"
    fps: float  # mocap and video frame rate
    seconds_per_action: float  # length of every sequence
    image_width: int  # even (video codecs)
    image_height: int
    cameras: tuple[CameraSpec, ...]  # the studio rig (also the intrinsics of challenge images)
    challenge_splits: Mapping[str, tuple[str, ...]]  # Train/Val/Test -> subjects (disjoint)
    challenge_images: Mapping[str, int]  # split name -> number of images
    challenge_distance_mm: tuple[float, float]  # camera-to-pelvis distance range of stills
    challenge_offcentre: float  # largest pelvis shift from the image centre (x half-size)
    challenge_out_of_frame: float  # share of stills whose person may reach out of the image
    occluder_probability: float  # chance of an occluder per still / per video sequence
    jpeg_quality: int
    video_codec: str  # four-character code for cv2.VideoWriter
    # subjects of h36m_subjects filmed from random places instead of the rig's (the views a
    # real 2D model has seen before Human3.6M); for the 2D networks only
    varied_view_subjects: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExtractConfig:
    h36m_subjects: tuple[str, ...]  # subjects to read; empty: the Human3.6M reader is off
    cameras: tuple[str, ...]  # camera ids to keep; empty: every camera of cameras.h5
    pose_source: str  # "auto" (h5 where a subject has them, else cdf) | "h5" | "cdf"
    frame_stride: int  # keep every n-th frame of the pose sequences (frame i of the poses file)
    video_frames_per_pose: int  # video frames per pose frame; 0: video count / pose count
    decode_frames: bool  # decode video frames to JPEG where a subject has a Videos folder
    box_margin: float  # person box = joints' extent grown by this fraction on each side
    challenge_splits: tuple[str, ...]  # challenge splits to read; empty: the reader is off
    jpeg_quality: int  # 1..100
    on_error: str  # "raise" | "skip" (count, log and report bad inputs, go on)
    workers: int  # threads decoding videos; 0: one per CPU core

    def __post_init__(self) -> None:
        choices = {"pose_source": ("auto", "h5", "cdf"), "on_error": ("raise", "skip")}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ConfigError(
                    f"extract.{key}: expected one of {allowed}, got {getattr(self, key)!r}"
                )
        if self.frame_stride < 1:
            raise ConfigError(f"extract.frame_stride: expected >= 1, got {self.frame_stride}")
        if self.video_frames_per_pose < 0:
            raise ConfigError("extract.video_frames_per_pose: expected >= 0 (0 = infer)")
        if self.box_margin < 0:
            raise ConfigError(f"extract.box_margin: expected >= 0, got {self.box_margin}")
        if self.workers < 0:
            raise ConfigError(f"extract.workers: expected >= 0 (0 = all cores), got {self.workers}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ConfigError(f"extract.jpeg_quality: expected 1..100, got {self.jpeg_quality}")


SOURCES = ("gt", "stacked_hourglass", "npz")


@dataclass(frozen=True)
class ImportKeypointsConfig:
    sources: tuple[str, ...]  # any of "gt", "stacked_hourglass", "npz"; one cache file each
    subjects: tuple[str, ...]  # stacked_hourglass/npz: subjects to import (empty = all)
    stacked_hourglass_root: str  # tree with S*/StackedHourglass/*.h5 ("" = paths.h36m_root)
    npz_path: str  # VideoPose3D-style positions_2d file (trusted: it is unpickled)
    npz_frame_stride: int  # npz: keep every n-th row, frame = row // n (5: 50 Hz -> 10 Hz)

    def __post_init__(self) -> None:
        unknown = [s for s in self.sources if s not in SOURCES]
        if unknown:
            raise ConfigError(
                f"import_keypoints.sources: unknown {unknown}; expected any of {SOURCES}"
            )
        if len(set(self.sources)) != len(self.sources):
            raise ConfigError(f"import_keypoints.sources: duplicates in {list(self.sources)}")
        if "npz" in self.sources and not self.npz_path:
            raise ConfigError("import_keypoints.npz_path: empty, but sources lists 'npz'")
        if self.npz_frame_stride < 1:
            raise ConfigError(f"import_keypoints.npz_frame_stride: {self.npz_frame_stride} < 1")


DETECTOR_ARCHS = ("ssdlite320_mobilenet_v3_large", "ssd300_vgg16")
CPN_BACKBONES = ("resnet18", "resnet50")
CPN_DECODERS = ("quarter", "dark")  # the sub-pixel steps of pose3d.heatmaps.decode_heatmaps


CHALLENGE_SPLITS: tuple[str, ...] = ("Train", "Val", "Test")  # the challenge's folders


def _check_splits(key: str, splits: Sequence[str], allow_empty: bool = False) -> None:
    """Challenge splits: known names, each once (and at least one unless `allow_empty`)."""
    unknown = [s for s in splits if s not in CHALLENGE_SPLITS]
    if unknown:
        raise ConfigError(f"{key}: {unknown} are not challenge splits {CHALLENGE_SPLITS}")
    if len(set(splits)) != len(splits):
        raise ConfigError(f"{key}: {list(splits)} names a split twice")
    if not splits and not allow_empty:
        raise ConfigError(f"{key}: expected a non-empty list of challenge splits")


def _at_least(key: str, value: int, low: int) -> None:
    if value < low:
        raise ConfigError(f"{key}: expected >= {low}, got {value}")


def _check_2d_subjects(section: str, subjects: Sequence[str], heldout: Sequence[str]) -> None:
    if not subjects:
        raise ConfigError(f"{section}.subjects: expected a non-empty list of training subjects")
    both = sorted(set(subjects) & set(heldout))
    if both:
        raise ConfigError(
            f"{section}.subjects: {both} are also in {section}.heldout_subjects (held out)"
        )


def _check_training(section: str, epochs: int, batch_size: int, lr: float) -> None:
    if epochs < 1 or batch_size < 2 or lr <= 0:
        raise ConfigError(
            f"{section}: need epochs >= 1, batch_size >= 2, lr > 0; got {epochs}, {batch_size}, {lr}"
        )


@dataclass(frozen=True)
class TrainDetectorConfig:
    """The person detector (torchvision SSD, models.ssd), trained on the Human3.6M-layout frames
    of `subjects` with their boxes; evaluated on the frames of `heldout_subjects` and on the
    challenge splits `eval_splits` (boxes from their labels)."""

    arch: str  # "ssdlite320_mobilenet_v3_large" (CPU default) | "ssd300_vgg16" (the paper's)
    image_size: int  # the detector's input side in px (0 = the architecture's own: 320 / 300)
    augment: str  # "ssd" (photometric, zoom out, IoU crop, flip) | "ssdlite" (IoU crop, flip)
    subjects: tuple[str, ...]  # Human3.6M-layout subjects whose frames it trains on
    heldout_subjects: tuple[str, ...]  # frames it is evaluated on, never trained on
    eval_splits: tuple[str, ...]  # challenge splits scored with their label boxes
    max_images: int  # training frames used (0 = all; else an even sample)
    epochs: int
    batch_size: int
    lr: float  # peak learning rate (AdamW, cosine decay after a warm-up)
    weight_decay: float
    score_thresh: float  # detections kept by the model
    channels_last: bool  # NHWC convolutions (faster on CPUs with oneDNN)
    # "" = random init; else a torchvision ImageNet classifier's state dict file that the
    # backbone starts from (mobilenet_v3_large / vgg16; checked when the stage runs)
    backbone_weights: str = ""

    def __post_init__(self) -> None:
        if self.arch not in DETECTOR_ARCHS:
            raise ConfigError(
                f"train_detector.arch: expected one of {DETECTOR_ARCHS}, got {self.arch!r}"
            )
        if self.augment not in ("ssd", "ssdlite"):
            raise ConfigError(
                f"train_detector.augment: expected ssd | ssdlite, got {self.augment!r}"
            )
        if self.image_size != 0 and self.image_size < 64:
            raise ConfigError(
                f"train_detector.image_size: expected 0 or >= 64, got {self.image_size}"
            )
        if self.max_images < 0 or not 0.0 <= self.score_thresh < 1.0:
            raise ConfigError("train_detector: need max_images >= 0 and 0 <= score_thresh < 1")
        _check_splits("train_detector.eval_splits", self.eval_splits, allow_empty=True)
        _check_2d_subjects("train_detector", self.subjects, self.heldout_subjects)
        _check_training("train_detector", self.epochs, self.batch_size, self.lr)


@dataclass(frozen=True)
class TrainCPNConfig:
    """The Cascaded Pyramid Network (models.cpn), trained through crop-and-resize (`cr`) on the
    Human3.6M-layout frames of `subjects` with ground-truth boxes and jitter; evaluated on the
    frames of `heldout_subjects` (pixel error and PCK in the original image)."""

    backbone: str  # "resnet18" (CPU default) | "resnet50" (the paper's)
    input_size: int  # crop side in px, a multiple of 32 (the paper: 224)
    channels: int  # GlobalNet's pyramid channels (the paper: 256)
    subjects: tuple[str, ...]
    heldout_subjects: tuple[str, ...]
    max_images: int  # training frames used (0 = all; else an even sample)
    epochs: int
    batch_size: int
    lr: float  # peak learning rate (AdamW, cosine decay after a warm-up)
    weight_decay: float
    rotate_deg: float  # jitter: rotation uniform in [-r, r]
    log2_scale: float  # jitter: square side times 2**u, u uniform in [-s, s]
    flip: bool  # jitter: mirror half the crops (left/right joints swapped)
    flip_test: bool  # inference: average with the mirrored crop's heatmaps
    bf16: bool  # bfloat16 autocast where the device has it natively (losses in float32)
    channels_last: bool  # NHWC convolutions
    # "" = random init; else a torchvision ImageNet ResNet's state dict file (of `backbone`)
    # that the backbone starts from (checked when the stage runs)
    backbone_weights: str = ""
    # per-crop colour jitter (brightness, contrast, saturation, hue) as torchvision's ColorJitter
    # ranges (models.photometric); all 0 = off
    colour_jitter: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    # per-crop texture jitter (sharpness, noise) ranges (models.photometric); all 0 = off
    texture_jitter: tuple[float, float] = (0.0, 0.0)
    # jitter: the square's centre moved by up to this share of its side along x and along y
    shift: float = 0.0
    # per-crop synthetic occlusion (probability, max_shapes) (models.occlusion); 0 = off
    occlusion: tuple[float, int] = (0.0, 0)
    # inference: the heatmaps' sub-pixel decoding, "quarter" | "dark" (pose3d.heatmaps)
    decode: str = "dark"

    def __post_init__(self) -> None:
        if self.decode not in CPN_DECODERS:
            raise ConfigError(
                f"train_cpn.decode: expected one of {list(CPN_DECODERS)}, got {self.decode!r}"
            )
        if self.backbone not in CPN_BACKBONES:
            raise ConfigError(
                f"train_cpn.backbone: expected one of {CPN_BACKBONES}, got {self.backbone!r}"
            )
        if self.input_size < 64 or self.input_size % 32:
            raise ConfigError(
                f"train_cpn.input_size: expected a multiple of 32 >= 64, got {self.input_size}"
            )
        if self.channels < 8 or self.max_images < 0 or self.rotate_deg < 0 or self.log2_scale < 0:
            raise ConfigError(
                "train_cpn: need channels >= 8, max_images >= 0, rotate_deg >= 0, log2_scale >= 0"
            )
        if not 0.0 <= self.shift <= 0.5:
            raise ConfigError(f"train_cpn.shift: expected a share in [0, 0.5], got {self.shift}")
        _check_2d_subjects("train_cpn", self.subjects, self.heldout_subjects)
        _check_training("train_cpn", self.epochs, self.batch_size, self.lr)
        *factors, hue = self.colour_jitter
        if not all(0.0 <= f <= 1.0 for f in factors) or not 0.0 <= hue <= 0.5:
            raise ConfigError(
                "train_cpn.colour_jitter: expected [brightness, contrast, saturation, hue] with "
                f"the first three in [0, 1] and hue in [0, 0.5], got {list(self.colour_jitter)}"
            )
        sharpness, noise = self.texture_jitter
        if not (0.0 <= sharpness <= 1.0 and 0.0 <= noise <= 0.2):
            raise ConfigError(
                "train_cpn.texture_jitter: expected [sharpness, noise] with sharpness in [0, 1] "
                f"and noise in [0, 0.2], got {list(self.texture_jitter)}"
            )
        probability, shapes = self.occlusion
        if not (0.0 <= probability <= 1.0 and int(shapes) == shapes and 0 <= shapes <= 8):
            raise ConfigError(
                "train_cpn.occlusion: expected [probability, max_shapes] with probability in "
                f"[0, 1] and max_shapes an integer 0..8, got {list(self.occlusion)}"
            )


@dataclass(frozen=True)
class CRConfig:
    """Crop-and-resize (pose3d.crop): the square around a person box that the CPN sees."""

    margin: float  # square side = the box's longest side x (1 + margin)

    def __post_init__(self) -> None:
        if not 0.0 <= self.margin <= 2.0:
            raise ConfigError(f"cr.margin: expected 0..2, got {self.margin}")


INFER_VARIANTS = ("cr", "full", "gt_box")
RUNNERS = ("threads", "dask")


@dataclass(frozen=True)
class Infer2DConfig:
    """Batch 2D inference over challenge images into keypoint caches (``<variant>.parquet``):
    ``cr`` detects the person, crops the square around the best box and maps the CPN's
    keypoints back (ICR); ``full`` feeds the whole image, resized (the paper's "w.o. CR");
    ``gt_box`` does as ``cr`` around the table's label box instead of the detector's (rows
    without one, all of the real challenge's, are left out): the error budget's middle step."""

    splits: tuple[str, ...]  # challenge splits to run on
    variants: tuple[str, ...]  # any of "cr", "full", "gt_box"; one cache each
    batch_size: int  # images per forward pass
    shard_size: int  # images per shard (each written atomically; a rerun skips finished ones)
    loader_workers: int  # processes decoding images ahead of the networks (0 = in the main one)
    min_person_score: float  # best box below this: no person (fallback: the whole image, flagged)
    person_candidates: int  # cr: the detector's best boxes the CPN reads; it keeps the likeliest
    refine_passes: int  # cr: the square drawn again around the CPN's keypoints, this many times
    max_pixels: int  # images with more pixels are refused by name (decompression bombs)
    runner: str  # "threads" (one process) | "dask" (prefect-dask: shards over Dask workers)
    dask_address: str  # "" = a LocalCluster of `dask_workers` workers; else a scheduler address
    dask_workers: int

    def __post_init__(self) -> None:
        bad = [v for v in self.variants if v not in INFER_VARIANTS]
        if bad or not self.variants or len(set(self.variants)) != len(self.variants):
            raise ConfigError(
                f"infer_2d.variants: expected distinct values of {INFER_VARIANTS}, got {list(self.variants)}"
            )
        _check_splits("infer_2d.splits", self.splits)
        if self.runner not in RUNNERS:
            raise ConfigError(f"infer_2d.runner: expected one of {RUNNERS}, got {self.runner!r}")
        for key, value, low in (("batch_size", self.batch_size, 1), ("shard_size", self.shard_size, 1),
                                ("loader_workers", self.loader_workers, 0),
                                ("refine_passes", self.refine_passes, 0),
                                ("person_candidates", self.person_candidates, 1),
                                ("dask_workers", self.dask_workers, 1)):  # fmt: skip
            _at_least(f"infer_2d.{key}", value, low)
        if not 0.0 <= self.min_person_score < 1.0 or self.max_pixels < 1:
            raise ConfigError("infer_2d: need 0 <= min_person_score < 1 and max_pixels >= 1")


@dataclass(frozen=True)
class LifterConfig:
    """The residual MLP of Martinez et al. 2017 (models.lifter.Lifter); saved in checkpoints."""

    num_joints: int = 17  # joints of the skeleton (H36M-17); outputs the num_joints - 1 non-root
    input_joints: tuple[int, ...] = ()  # joints fed to the model (empty = all); others dropped
    width: int = 1024  # d: width of every hidden layer
    num_blocks: int = 2  # N: residual blocks of two [linear, batch norm, ReLU, dropout]
    dropout: float = 0.5  # drop probability
    residual: bool = True  # skip connection around each block
    batch_norm: bool = True
    max_norm: bool = True  # constrain each weight matrix to Frobenius norm <= max_norm_value
    max_norm_mode: str = "forward"  # "forward" (clip inside forward, reference) | "post_step"
    max_norm_value: float = 1.0
    matmul_dtype: str = "float32"  # dtype of the blocks' products: "float32" | "bfloat16"
    floor_input: bool = (
        False  # add the ankles' floor inverse depths (pose3d.lifting.floor) to the input
    )
    # joints whose 2D score is below this are given to the lifter as missing (the training mean),
    # in training and at inference alike (0: every joint as detected)
    min_score: float = 0.0


@dataclass(frozen=True)
class AugmentConfig:
    """Geometric augmentation of the training rows (pose3d.lifting.augment); all off by default."""

    probability: float = 0.0  # fraction of training rows replaced by an augmented copy each epoch
    rotate_deg: float = 0.0  # yaw about the world's vertical axis, uniform in [-r, r] degrees
    bone_scale: float = 0.0  # std of the log length factor of each bone (left = right)
    body_scale: float = 0.0  # std of the log size factor of the whole body (feet kept on the floor)
    error_resample: float = 0.0  # share of those rows given another row's 2D error (rescaled)
    error_clean: float = 0.0  # share of those rows given no 2D error (ground truth mixed in)


@dataclass(frozen=True)
class TrainLifterConfig:
    """How the lifter is trained (its data route is the `lifting` section)."""

    model: LifterConfig
    epochs: int
    batch_size: int
    lr: float  # peak learning rate of Adam
    lr_schedule: str  # "exponential" (Martinez) | "cosine" | "onecycle"
    lr_decay: float  # exponential: factor applied every lr_decay_steps steps
    lr_decay_steps: int
    warmup_fraction: float  # cosine/onecycle: fraction of the steps spent warming up
    weight_decay: float  # Adam's L2 penalty (0 = none)
    loss: str  # "mse" (standardised coordinates, Martinez) | "l1" | "mpjpe" (mm)
    norm_2d: str  # 2D pre-transform: "zscore" (Martinez) | "image" | "root_scale"
    flip_train: bool  # add left-right mirrored copies of the training rows
    flip_test: bool  # average predictions over the input and its mirror
    augment: AugmentConfig = AugmentConfig()
    # after each epoch, re-estimate batch norm's statistics over this many training batches
    # with dropout off (0 = keep the running averages of training; tasks.lifter)
    bn_recalibration_batches: int = 0
    # each epoch, each input joint of each training row is set missing (the training mean, as a
    # NaN joint is) with this probability: a lifter that places a joint it is not given
    joint_dropout: float = 0.0

    def __post_init__(self) -> None:
        choices = {
            "lr_schedule": ("exponential", "cosine", "onecycle"),
            "loss": ("mse", "l1", "mpjpe"),
            "norm_2d": ("zscore", "image", "root_scale"),
        }
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ConfigError(
                    f"train_lifter.{key}: expected one of {allowed}, got {getattr(self, key)!r}"
                )
        if (
            self.epochs < 1 or self.batch_size < 2 or self.lr <= 0 or self.lr_decay_steps < 1
            or self.bn_recalibration_batches < 0 or not 0.0 <= self.joint_dropout < 1.0
        ):  # fmt: skip
            raise ConfigError(
                "train_lifter: need epochs >= 1, batch_size >= 2, lr > 0, lr_decay_steps >= 1, "
                "bn_recalibration_batches >= 0, 0 <= joint_dropout < 1"
            )
        aug = self.augment
        if (
            not 0.0 <= aug.probability <= 1.0
            or min(aug.rotate_deg, aug.bone_scale, aug.body_scale) < 0
            or min(aug.error_resample, aug.error_clean) < 0
            or aug.error_resample + aug.error_clean > 1
        ):
            raise ConfigError(
                "train_lifter.augment: need 0 <= probability <= 1; rotate_deg, bone_scale, "
                "body_scale >= 0; error_resample, error_clean >= 0 with a sum <= 1"
            )
        if self.model.max_norm_mode not in ("forward", "post_step"):
            mode = self.model.max_norm_mode
            raise ConfigError(
                f"train_lifter.model.max_norm_mode: expected forward | post_step, got {mode!r}"
            )


DATASETS = ("challenge", "h36m")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class LiftingConfig:
    """The `lifting` stage: which frames and which 2D keypoints the lifter trains and is
    scored on (written to ``paths.lifting``; read by train_lifter, evaluate and ablation)."""

    dataset: str  # "challenge" (the paper's route) | "h36m" (the Human3.6M protocol)
    keypoints: str  # path of the keypoint cache giving the 2D inputs (any stage's cache)
    reference_keypoints: str  # "" or a cache scored beside it with the same recipe (ground truth)
    without_cr_keypoints: str  # "" or the cache of Table 1's "w.o. CR" column (ablation)
    gt_box_keypoints: str  # "" or the CPN on the label boxes, trained and scored beside the route
    train: tuple[str, ...]  # challenge: splits; h36m: subjects
    test: tuple[str, ...]  # evaluated by `evaluate`; the validation curve of `train_lifter`
    cameras: tuple[str, ...]  # camera ids to use (empty = all)

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ConfigError(f"lifting.dataset: expected one of {DATASETS}, got {self.dataset!r}")
        for part in ("train", "test"):
            if not getattr(self, part):
                raise ConfigError(f"lifting.{part}: expected a non-empty list of splits/subjects")
        for key in ("keypoints", "reference_keypoints", "without_cr_keypoints", "gt_box_keypoints"):
            value = getattr(self, key)
            if (value or key == "keypoints") and not value.endswith(".parquet"):
                raise ConfigError(
                    f"lifting.{key}: expected the path of a keypoint cache (.parquet), got {value!r}"
                )


@dataclass(frozen=True)
class EvaluateConfig:
    examples: int  # example poses drawn in examples.png (0 = none)


@dataclass(frozen=True)
class AblationConfig:
    """Table 1 runs every max-norm x batch-norm x residual combination of train_lifter.model;
    Fig. 2 every (blocks, width) pair. All with train_lifter's recipe but `epochs`."""

    epochs: int
    blocks: tuple[int, ...]
    widths: tuple[int, ...]


@dataclass(frozen=True)
class Params:
    seed: int
    device: str  # "auto" (cuda when torch sees one, else cpu) | "cpu" | "cuda"
    paths: PathsConfig
    generate: GenerateConfig
    extract: ExtractConfig
    import_keypoints: ImportKeypointsConfig
    train_detector: TrainDetectorConfig
    train_cpn: TrainCPNConfig
    cr: CRConfig
    infer_2d: Infer2DConfig
    lifting: LiftingConfig
    train_lifter: TrainLifterConfig
    evaluate: EvaluateConfig
    ablation: AblationConfig

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ConfigError(f"device: expected one of {DEVICES}, got {self.device!r}")


def blame(err: ConfigError, path: str | Path, overrides: Sequence[str]) -> str:
    """Where the offending value came from: the ``--set`` override of its key, else the file."""
    message = str(err)
    for item in overrides:
        dotted = item.split("=", 1)[0].strip()
        if message.startswith(f"{dotted}:") or message.startswith(f"{dotted}["):
            return f"--set {item.strip()}: {message}"
        if message.startswith(f"override {dotted}:"):
            return f"--set {item.strip()}: {message.split(': ', 1)[1]}"
    return f"{path}: {message}"


def load_params(path: str | Path = "params.yaml", overrides: Sequence[str] = ()) -> Params:
    """Parse a params file (plus overrides) into `Params`, every key and choice checked.

    Errors name the key, the value, and where it came from (the file or the ``--set``).
    """
    raw = load_raw(path)
    try:
        return from_dict(Params, apply_overrides(raw, overrides))
    except ConfigError as err:
        raise ConfigError(blame(err, path, overrides)) from err
