"""Stop reading an uploaded file as soon as it passes the referral letter's size limit.

Django reads a whole multipart body (to a temporary file past 2.5 MB) before any view runs: the
CSRF check reads the form. This handler, first in ``FILE_UPLOAD_HANDLERS``, stops the upload
at the limit, so an oversize letter never fills the disk; it marks the request, and the form
then says the file is too large (the fields typed before the file are kept).
"""

from __future__ import annotations

from typing import Any

from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from painclinic.web.referrals.letters import max_bytes

TOO_LARGE = "painclinic_upload_too_large"


class UploadSizeLimit(FileUploadHandler):
    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > max_bytes():
            if self.request is not None:
                setattr(self.request, TOO_LARGE, True)
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> Any:
        return None  # the next handler keeps the file


def upload_too_large(request: object) -> bool:
    return bool(getattr(request, TOO_LARGE, False))
