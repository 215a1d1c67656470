"""The embedded synthetic world: procedural people, a capture studio and an OpenCV renderer.

Pure numpy + OpenCV. ``body`` (skeleton, bone lengths, forward kinematics), ``motion``
(procedural actions), ``studio`` (cameras), ``render`` (drawing images) and ``world`` (writing
the Human3.6M and challenge layouts). Everything is deterministic for a given seed.
"""
