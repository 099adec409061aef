"""Speech-to-text: streaming upload, form validation, per-target re-mapping, and the shared pipeline."""

from .request import (
    TranscriptionRequest,
    check_duration,
    parse_transcription_fields,
    parse_transcription_form,
    transcription_call_for,
    transcription_mismatches,
    validate_transcription,
)
from .upload import Upload, UploadLimits, read_multipart

__all__ = ["TranscriptionRequest", "check_duration", "parse_transcription_fields", "parse_transcription_form",
           "transcription_call_for", "transcription_mismatches", "validate_transcription", "Upload", "UploadLimits",
           "read_multipart"]
