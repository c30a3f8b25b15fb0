"""Face masking for every image or clip the toolkit shows to people (the annotators' strips).

``mask_faces(image, boxes_xyxy, keypoints)`` returns a copy of ``image`` in which every face
region is pixelated (or blurred, or filled) beyond recognition. Every piece of evidence for a
face is masked, their union:

1. faces found by a face detector (mediapipe's full-range BlazeFace, shipped inside the
   mediapipe 0.10.14 wheel), run on the whole image and, when boxes are given, on each
   person's upscaled head zone (surveillance faces are often too small to be found at all at
   their native size: 16 % of TUD-Campus heads were found);
2. per person with keypoints, the whole-head square around the face keypoints (mediapipe pose
   landmarks 0-10, or COCO-17 keypoints 0-4);
3. per person with a box, the top of the box (from a little above it down to 1/6 of its
   height, a little more than a head) across the box's width plus a margin. This region is
   the fallback that always exists; it is masked even when 1. or 2. found the face, because
   in crowds a detection or a pose can belong to the neighbour, and boxes (ground truth
   included) often cut the top of the head.

Privacy is the point, so masking errs on the large side: a missed face leaks identity, an
over-masked shoulder costs nothing to someone linking walkers by clothes and gait.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal, Protocol

import cv2
import numpy as np

from grewkit.core.errors import GrewkitError

Style = Literal["pixelate", "blur", "fill"]

# Face keypoint indices per keypoint layout (number of keypoints per person -> indices).
FACE_KEYPOINTS: dict[int, tuple[int, ...]] = {
    33: tuple(range(11)),  # mediapipe pose: nose, eyes (inner, centre, outer), ears, mouth corners
    17: tuple(range(5)),  # COCO-17: nose, eyes, ears
}
# The ears sit at the centre of the head both frontally (between them) and in profile (where the
# nose-eyes centroid lies in front of the head's centre).
EAR_KEYPOINTS: dict[int, tuple[int, int]] = {33: (7, 8), 17: (3, 4)}
KEYPOINT_MIN_CONFIDENCE = 0.3
# Head height is about 1/7.5 of a standing person's height; 1/6 of the box leaves a margin for
# loose boxes and bent heads.
BOX_HEAD_FRACTION = 1 / 6
# Boxes (ground truth included) often cut the top of the head or a sideways-leaning head.
BOX_MARGIN = 0.08
# The detector box covers brows to chin; growing it by this factor covers hair, ears and chin.
DETECTION_GROWTH = 1.5
PIXELATE_BLOCKS = 6  # blocks across the longer side of a face region: far below recognisable resolution


@dataclass(frozen=True)
class FaceRegion:
    """A region to mask, in pixel coordinates (``x2``, ``y2`` exclusive), with where it came from."""

    x1: int
    y1: int
    x2: int
    y2: int
    source: Literal["detector", "keypoints", "box"]

    @property
    def area(self) -> int:
        return max(0, self.x2 - self.x1) * max(0, self.y2 - self.y1)


class FaceDetector(Protocol):
    """Anything that finds faces: ``detect(rgb) -> (N, 5)`` float array of ``x1, y1, x2, y2, score`` in pixels."""

    def detect(self, image_rgb: np.ndarray) -> np.ndarray: ...

    def close(self) -> None: ...


class MediapipeFaceDetector:
    """mediapipe's BlazeFace full-range model (faces up to about 5 m), weights shipped in the wheel.

    A mediapipe graph is not safe to call from two threads at once, hence the lock.
    """

    def __init__(self, *, min_confidence: float = 0.5, full_range: bool = True):
        try:
            import mediapipe as mp
        except ImportError as exc:
            raise GrewkitError(f"mediapipe is not importable ({exc}); run `make setup` (mediapipe==0.10.14)") from None
        self._detector = mp.solutions.face_detection.FaceDetection(
            model_selection=1 if full_range else 0, min_detection_confidence=min_confidence
        )
        self._lock = threading.Lock()

    def detect(self, image_rgb: np.ndarray) -> np.ndarray:
        h, w = image_rgb.shape[:2]
        with self._lock:
            result = self._detector.process(np.ascontiguousarray(image_rgb))
        rows = []
        for det in result.detections or []:
            box = det.location_data.relative_bounding_box
            x1, y1 = box.xmin * w, box.ymin * h
            rows.append((x1, y1, x1 + box.width * w, y1 + box.height * h, float(det.score[0])))
        return np.asarray(rows, dtype=np.float64).reshape(-1, 5)

    def close(self) -> None:
        with self._lock:
            if self._detector is not None:
                self._detector.close()
                self._detector = None


_DEFAULT: MediapipeFaceDetector | None = None
_DEFAULT_LOCK = threading.Lock()


def default_detector() -> MediapipeFaceDetector:
    """One shared detector per process (a few MB; created on first use)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = MediapipeFaceDetector()
        return _DEFAULT


def _as_boxes(boxes_xyxy) -> np.ndarray | None:
    if boxes_xyxy is None:
        return None
    boxes = np.asarray(boxes_xyxy, dtype=np.float64)
    if boxes.ndim == 1 and boxes.size == 4:
        boxes = boxes[None]
    if boxes.ndim != 2 or boxes.shape[1] < 4:
        raise GrewkitError(f"boxes_xyxy must have shape (N, 4), got {boxes.shape}")
    return boxes[:, :4]


def _as_keypoints(keypoints) -> np.ndarray | None:
    if keypoints is None:
        return None
    kps = np.asarray(keypoints, dtype=np.float64)
    if kps.ndim == 2:
        kps = kps[None]
    if kps.ndim != 3 or kps.shape[2] not in (2, 3) or kps.shape[1] not in FACE_KEYPOINTS:
        raise GrewkitError(
            f"keypoints must have shape (N, K, 2 or 3) with K in {sorted(FACE_KEYPOINTS)} "
            f"(mediapipe 33 or COCO-17), got {kps.shape}"
        )
    return kps


def _clip(x1, y1, x2, y2, w, h, source) -> FaceRegion | None:
    x1, y1 = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
    x2, y2 = min(w, int(np.ceil(x2))), min(h, int(np.ceil(y2)))
    if x2 <= x1 or y2 <= y1:
        return None
    return FaceRegion(x1, y1, x2, y2, source)


def keypoint_head_region(person_kps: np.ndarray, box: np.ndarray | None, w: int, h: int) -> FaceRegion | None:
    """The whole-head square around one person's visible face keypoints, or None when none is visible."""
    layout = person_kps.shape[0]
    ok = np.isfinite(person_kps[:, :2]).all(axis=1)
    if person_kps.shape[1] == 3:
        ok &= person_kps[:, 2] >= KEYPOINT_MIN_CONFIDENCE
    face = [i for i in FACE_KEYPOINTS[layout] if ok[i]]
    if not face:
        return None
    pts = person_kps[face, :2]
    span = float(np.ptp(pts, axis=0).max()) if len(pts) > 1 else 0.0
    # Face keypoints span ear-to-ear (~0.15 m) at most; a head with hair and chin is ~0.25 m.
    head = 2.0 * span
    if box is not None:
        head = max(head, (box[3] - box[1]) / 7.0)
    head = max(head, 12.0)
    side = 1.5 * head
    ears = [i for i in EAR_KEYPOINTS[layout] if ok[i]]
    cx, cy = (person_kps[ears, :2] if ears else pts).mean(axis=0)
    cy -= 0.05 * head  # ears and eyes sit a little below the head's centre (hair on top)
    return _clip(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2, w, h, "keypoints")


def box_head_region(box: np.ndarray, w: int, h: int) -> FaceRegion | None:
    """The top of a person box and a margin around it: the region that always exists."""
    bx1, by1, bx2, by2 = box
    bw, bh = bx2 - bx1, by2 - by1
    return _clip(
        bx1 - BOX_MARGIN * bw, by1 - BOX_MARGIN * bh, bx2 + BOX_MARGIN * bw, by1 + BOX_HEAD_FRACTION * bh, w, h, "box"
    )


def _grow(x1, y1, x2, y2, factor):
    cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * factor / 2, (y2 - y1) * factor / 2
    side = max(hw, hh)  # square: the detector's box is narrow for profile faces
    return cx - side, cy - side * 1.1, cx + side, cy + side * 0.9  # more room above (hair) than below


def _detect_in_head_zone(
    rgb: np.ndarray, box: np.ndarray, detector: FaceDetector, w: int, h: int
) -> list[FaceRegion | None]:
    """Faces the detector finds in the upscaled top third of a person box, centred in its top fifth."""
    bx1, by1, bx2, by2 = box
    bw, bh = bx2 - bx1, by2 - by1
    zone = _clip(bx1 - 0.1 * bw, by1 - 0.1 * bh, bx2 + 0.1 * bw, by1 + bh / 3, w, h, "detector")
    if zone is None:
        return []
    crop = rgb[zone.y1 : zone.y2, zone.x1 : zone.x2]
    # BlazeFace works on 192x192 input; small heads must be upscaled to be found at all.
    scale = min(8.0, max(1.0, 256.0 / max(crop.shape[:2])))
    if scale > 1.0:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    out = []
    for x1, y1, x2, y2, _ in detector.detect(crop):
        x1, x2 = zone.x1 + x1 / scale, zone.x1 + x2 / scale
        y1, y2 = zone.y1 + y1 / scale, zone.y1 + y2 / scale
        if (y1 + y2) / 2 > by1 + bh / 5:
            continue  # a "face" at chest height is a false positive (a logo, a hand)
        out.append(_clip(*_grow(x1, y1, x2, y2, DETECTION_GROWTH), w, h, "detector"))
    return out


def face_regions(
    image: np.ndarray,
    boxes_xyxy: np.ndarray | None = None,
    keypoints: np.ndarray | None = None,
    *,
    detector: FaceDetector | None | Literal["default"] = "default",
    channels: Literal["rgb", "bgr"] = "rgb",
) -> list[FaceRegion]:
    """Every region ``mask_faces`` masks (see the module docstring for the rules)."""
    img = _check_image(image)
    h, w = img.shape[:2]
    boxes, kps = _as_boxes(boxes_xyxy), _as_keypoints(keypoints)
    if boxes is not None and kps is not None and len(boxes) != len(kps):
        raise GrewkitError(f"boxes_xyxy ({len(boxes)}) and keypoints ({len(kps)}) must describe the same people")
    if detector == "default":
        detector = default_detector()
    rgb = None
    if detector is not None:
        rgb = img if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
        if channels == "bgr" and img.ndim == 3:
            rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    regions: list[FaceRegion] = []
    if detector is not None:
        for x1, y1, x2, y2, _ in detector.detect(rgb):
            found = _clip(*_grow(x1, y1, x2, y2, DETECTION_GROWTH), w, h, "detector")
            if found is not None:
                regions.append(found)
    n = len(boxes) if boxes is not None else (len(kps) if kps is not None else 0)
    for i in range(n):
        box = boxes[i] if boxes is not None else None
        if detector is not None and box is not None:
            regions.extend(_detect_in_head_zone(rgb, box, detector, w, h))
        if kps is not None:
            regions.append(keypoint_head_region(kps[i], box, w, h))
        if box is not None:
            regions.append(box_head_region(box, w, h))
    return [r for r in regions if r is not None]


def _check_image(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise GrewkitError(f"expected a uint8 image (H, W, 3) or (H, W), got {img.dtype} {img.shape}")
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise GrewkitError("empty image")
    return img


def obscure(image: np.ndarray, regions: list[FaceRegion], *, style: Style = "pixelate") -> np.ndarray:
    """A copy of ``image`` with each region pixelated, blurred or filled."""
    out = np.array(image, copy=True)
    for r in regions:
        patch = out[r.y1 : r.y2, r.x1 : r.x2]
        ph, pw = patch.shape[:2]
        if style == "fill" or min(ph, pw) < 4:
            patch[...] = patch.reshape(ph * pw, -1).mean(axis=0).astype(np.uint8).reshape(patch.shape[2:])
        elif style == "pixelate":
            scale = PIXELATE_BLOCKS / max(ph, pw)
            small = cv2.resize(
                patch, (max(1, round(pw * scale)), max(1, round(ph * scale))), interpolation=cv2.INTER_AREA
            )
            patch[...] = cv2.resize(small, (pw, ph), interpolation=cv2.INTER_NEAREST).reshape(patch.shape)
        elif style == "blur":
            sigma = max(ph, pw) / 4.0
            patch[...] = cv2.GaussianBlur(
                patch, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE
            ).reshape(patch.shape)
        else:
            raise GrewkitError(f"unknown face-mask style {style!r}; use pixelate, blur or fill")
    return out


def mask_faces(
    image: np.ndarray,
    boxes_xyxy: np.ndarray | None = None,
    keypoints: np.ndarray | None = None,
    *,
    style: Style = "pixelate",
    detector: FaceDetector | None | Literal["default"] = "default",
    channels: Literal["rgb", "bgr"] = "rgb",
) -> np.ndarray:
    """Return a copy of ``image`` with every face region obscured beyond recognition.

    ``image``: uint8 (H, W, 3) RGB (``channels="bgr"`` for OpenCV frames; only the detector cares)
    or (H, W). ``boxes_xyxy``: (N, 4) person boxes in pixels. ``keypoints``: (N, K, 2|3) pixel
    keypoints (with confidence), K = 33 (mediapipe pose) or 17 (COCO), same people and order as
    the boxes. ``detector``: the shared mediapipe detector by default, any ``FaceDetector``, or
    None for keypoints/boxes only. The input is never modified.
    """
    img = _check_image(image)
    if style not in ("pixelate", "blur", "fill"):
        raise GrewkitError(f"unknown face-mask style {style!r}; use pixelate, blur or fill")
    return obscure(img, face_regions(img, boxes_xyxy, keypoints, detector=detector, channels=channels), style=style)
