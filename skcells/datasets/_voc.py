"""Pascal VOC annotations, parsed defensively."""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

__all__ = ["parse_annotation"]


def parse_annotation(path, classes):
    """Parse one Pascal VOC annotation file.

    DOCTYPE and ENTITY declarations are refused (no entity expansion), and
    any XML error is reported with the file name.

    Parameters
    ----------
    path : path-like
        The ``.xml`` file.
    classes : sequence of str
        The accepted object classes.

    Returns
    -------
    boxes : ndarray of shape (n_objects, 4), dtype int32
        ``(xmin, ymin, xmax, ymax)`` per ``<object>``.
    labels : ndarray of shape (n_objects,), dtype int8
        Index of each object's class in ``classes``.
    """
    path = Path(path)
    blob = path.read_bytes()
    if re.search(rb"<!\s*(DOCTYPE|ENTITY)", blob, flags=re.IGNORECASE):
        raise ValueError(
            f"malformed annotation {path}: DOCTYPE/ENTITY declarations are not "
            "accepted."
        )
    try:
        root = ET.fromstring(blob)
    except ET.ParseError as exc:
        raise ValueError(f"malformed annotation {path}: {exc}.") from None
    if root.tag != "annotation":
        raise ValueError(
            f"malformed annotation {path}: root element is <{root.tag}>, "
            "expected <annotation>."
        )
    boxes, labels = [], []
    for k, obj in enumerate(root.findall("object")):
        name = (obj.findtext("name") or "").strip()
        if name not in classes:
            raise ValueError(
                f"malformed annotation {path}: object {k} has class {name!r}, "
                f"expected one of {tuple(classes)}."
            )
        coords = []
        for tag in ("xmin", "ymin", "xmax", "ymax"):
            text = obj.findtext(f"bndbox/{tag}")
            try:
                coords.append(int(round(float(text))))
            except (TypeError, ValueError):
                raise ValueError(
                    f"malformed annotation {path}: object {k} has "
                    f"bndbox/{tag}={text!r}, expected a number."
                ) from None
        boxes.append(coords)
        labels.append(classes.index(name))
    return (
        np.array(boxes, dtype=np.int32).reshape(-1, 4),
        np.array(labels, dtype=np.int8),
    )
