"""Speech-to-text: streaming upload, form validation, and re-mapping per target."""

from .request import (
    TranscriptionRequest, check_duration, parse_transcription_form, transcription_call_for, validate_transcription,
)
from .upload import Upload, UploadLimits, read_multipart

__all__ = ["TranscriptionRequest", "check_duration", "parse_transcription_form", "transcription_call_for",
           "validate_transcription", "Upload", "UploadLimits", "read_multipart"]
