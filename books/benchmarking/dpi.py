"""Effective resolution of the pictures as printed: image pixel width / printed width in inches.

Read from the PDF itself (the transformation in force where each image is painted), so it holds
whatever the templates do with the picture. Needs pypdf (a development requirement).
"""

import io
import math


def image_dpis(pdf: bytes) -> list[float] | None:
    """One value per painted image, or None when pypdf is not installed."""
    try:
        from pypdf import PdfReader
    except ImportError:
        return None
    dpis: list[float] = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        xobjects = page["/Resources"].get("/XObject") or {}

        def visit(operator, operands, ctm, _tm, xobjects=xobjects) -> None:
            if operator != b"Do" or operands[0] not in xobjects:
                return
            xobject = xobjects[operands[0]].get_object()
            if xobject.get("/Subtype") != "/Image":
                return
            printed_inches = math.hypot(ctm[0], ctm[1]) / 72  # the unit square's width, in points
            if printed_inches > 0:
                dpis.append(int(xobject["/Width"]) / printed_inches)

        page.extract_text(visitor_operand_before=visit)
    return dpis
