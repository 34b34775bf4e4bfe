"""A signed export as a file download, the one answer the API and the portal give for it
(`domain.inspection_exports.ExportFile`)."""

from __future__ import annotations

from starlette.responses import Response

from medledger.domain.inspection_exports import ExportFile

__all__ = ["export_download"]


def export_download(found: ExportFile) -> Response:
    """The file as an attachment, never cached; its content hash and signer in headers."""
    return Response(
        found.data,
        media_type=found.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{found.filename}"',
            "X-Export-SHA256": found.content_hash,
            "X-Export-Signer": found.signer,
            "Cache-Control": "no-store",
        },
    )
