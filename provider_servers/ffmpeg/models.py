"""The ffmpeg provider's models: one per capability, each with its options, bounds and defaults."""

from __future__ import annotations

from provider_servers.sdk import Capability, ModelSpec, Param, standard_param

__all__ = [
    "AUDIO_MIME_TYPES",
    "COLOR_NAMES",
    "CONTACT_SHEET",
    "CONVERT_AUDIO",
    "EXTRACT_AUDIO",
    "FRAMES",
    "IMAGE_MIME_TYPES",
    "MAX_TITLE_CHARACTERS",
    "MODELS",
    "SLIDESHOW",
    "TITLE_CARD",
    "TRANSCODE",
    "VIDEO_MIME_TYPES",
]

VIDEO_MIME_TYPES = (
    "video/mp4",
    "video/webm",
    "video/x-matroska",
    "video/quicktime",
    "video/x-msvideo",
    "video/mpeg",
    "video/mp2t",
    "video/ogg",
    "video/3gpp",
    "video/x-flv",
)
AUDIO_MIME_TYPES = (
    "audio/wav",
    "audio/x-wav",
    "audio/wave",
    "audio/mpeg",
    "audio/mp3",
    "audio/flac",
    "audio/x-flac",
    "audio/ogg",
    "audio/opus",
    "audio/aac",
    "audio/mp4",
    "audio/x-m4a",
    "audio/webm",
)
IMAGE_MIME_TYPES = ("image/png", "image/jpeg", "image/webp", "image/bmp", "image/tiff")
# Colors a title card takes by name (all known to ffmpeg); any other as #RRGGBB.
COLOR_NAMES = (
    "white",
    "black",
    "gray",
    "silver",
    "red",
    "maroon",
    "orange",
    "yellow",
    "gold",
    "olive",
    "lime",
    "green",
    "teal",
    "cyan",
    "blue",
    "navy",
    "purple",
    "magenta",
    "pink",
    "brown",
)
MAX_TITLE_CHARACTERS = 1000
MAX_SLIDESHOW_IMAGES = 20
_DAY_S = 86_400.0


def _sample_rate() -> Param:
    return standard_param(
        "sample_rate",
        note="Leave out to keep the source's (or the nearest the format takes). mp3 takes the MPEG "
        "rates up to 48000, m4a the AAC rates up to 96000.",
        minimum=8000,
        maximum=192_000,
    )


def _channels() -> Param:
    return Param(
        "channels",
        "integer",
        "1 mixes down to mono, 2 makes stereo. Leave out to keep the source's.",
        minimum=1,
        maximum=2,
    )


def _trim() -> tuple[Param, Param]:
    return (
        Param(
            "start_s", "number", "Seconds to skip from the start.", default=0.0, minimum=0.0, maximum=_DAY_S
        ),
        standard_param(
            "duration_s",
            note="ffmpeg: the seconds kept from start_s. Leave out to keep the rest.",
            minimum=0.01,
            maximum=_DAY_S,
        ),
    )


def _format(choices: tuple[str, ...], what: str) -> Param:
    return standard_param("format", note=what, default=choices[0], choices=choices)


def _side(name: str, note: str, minimum: int, maximum: int, default: int | None = None) -> Param:
    return standard_param(name, note=note, default=default, minimum=minimum, maximum=maximum)


def _fps() -> Param:
    return standard_param("fps", default=25, minimum=1, maximum=60)


EXTRACT_AUDIO = ModelSpec(
    id="extract-audio",
    display_name="ffmpeg: extract a video's soundtrack",
    description=(
        "Writes the first audio track of a video as wav (16-bit PCM), mp3 (LAME, VBR about 190 kb/s), "
        "flac (lossless), ogg (Vorbis, quality 5) or m4a (AAC-LC 160 kb/s). "
        "ffmpeg on the CPU; progress follows the media time written."
    ),
    capabilities=(Capability.VIDEO_TO_AUDIO,),
    parameters=(
        _format(
            ("wav", "mp3", "flac", "ogg", "m4a"),
            "ffmpeg: audio/wav, audio/mpeg, audio/flac, audio/ogg (Vorbis), audio/mp4 (AAC).",
        ),
        _sample_rate(),
        _channels(),
    ),
    input_mime_types=VIDEO_MIME_TYPES,
    output_mime_type="audio/wav",
)

CONVERT_AUDIO = ModelSpec(
    id="convert-audio",
    display_name="ffmpeg: convert, resample, trim and normalize audio",
    description=(
        "Re-encodes audio as wav, mp3, flac or ogg, optionally resampled, mixed to mono or stereo, "
        "trimmed, and loudness-normalized to EBU R128 (-16 LUFS, -1.5 dBTP) with ffmpeg's "
        "single-pass loudnorm filter. ffmpeg on the CPU."
    ),
    capabilities=(Capability.AUDIO_TO_AUDIO,),
    parameters=(
        _format(
            ("wav", "mp3", "flac", "ogg"), "ffmpeg: audio/wav, audio/mpeg, audio/flac, audio/ogg (Vorbis)."
        ),
        _sample_rate(),
        _channels(),
        *_trim(),
        Param(
            "loudnorm",
            "boolean",
            "Normalize loudness to -16 LUFS integrated, -1.5 dBTP true peak, loudness range 11 LU "
            "(EBU R128, single pass).",
            default=False,
        ),
    ),
    input_mime_types=AUDIO_MIME_TYPES,
    output_mime_type="audio/wav",
)

TRANSCODE = ModelSpec(
    id="transcode",
    display_name="ffmpeg: transcode, scale and trim video",
    description=(
        "Re-encodes a video as mp4, webm or mkv with H.264 (libx264), VP9 (libvpx) or MPEG-4 part 2, "
        "or remuxes it untouched (copy); optionally scaled keeping its aspect and trimmed. The first "
        "audio track is kept: AAC in mp4 and mkv, Opus in webm (copied as is with copy when the "
        "container takes it). ffmpeg on the CPU."
    ),
    capabilities=(Capability.VIDEO_TO_VIDEO,),
    parameters=(
        _format(("mp4", "webm", "mkv"), "ffmpeg: the container, video/mp4, video/webm, video/x-matroska."),
        Param(
            "video_codec",
            "string",
            "auto: h264 for mp4 and mkv, vp9 for webm. webm takes only vp9, or copy of a VP8, VP9 or "
            "AV1 source. copy remuxes without re-encoding: no scaling, and trims cut at keyframes.",
            default="auto",
            choices=("auto", "h264", "vp9", "mpeg4", "copy"),
        ),
        _side(
            "width",
            "Rounded down to even; alone, the height follows the aspect. With height, the video fits "
            "inside width x height keeping its aspect. Leave out to keep.",
            16,
            7680,
        ),
        _side("height", "Rounded down to even; alone, the width follows the aspect.", 16, 4320),
        *_trim(),
    ),
    input_mime_types=VIDEO_MIME_TYPES,
    output_mime_type="video/mp4",
)

FRAMES = ModelSpec(
    id="frames",
    display_name="ffmpeg: a frame or a contact sheet of a video",
    description=(
        "mode frame: the frame shown at at_s, full size. mode contact_sheet: columns x rows frames "
        "taken at even intervals across the whole video (each from the middle of its interval), "
        "scaled to tile_width and tiled in reading order. PNG or JPEG out. ffmpeg on the CPU."
    ),
    capabilities=(Capability.VIDEO_TO_IMAGE,),
    parameters=(
        Param(
            "mode", "string", "frame or contact_sheet.", default="frame", choices=("frame", "contact_sheet")
        ),
        Param(
            "at_s",
            "number",
            "frame mode: the time of the frame, in seconds; must fall inside the video.",
            default=0.0,
            minimum=0.0,
            maximum=_DAY_S,
        ),
        Param("columns", "integer", "contact_sheet mode: frames across.", default=4, minimum=1, maximum=12),
        Param("rows", "integer", "contact_sheet mode: frames down.", default=4, minimum=1, maximum=12),
        Param(
            "tile_width",
            "integer",
            "contact_sheet mode: width of each frame in pixels (height follows the aspect).",
            default=256,
            minimum=32,
            maximum=1024,
        ),
        _format(("png", "jpeg"), "ffmpeg: image/png or image/jpeg."),
    ),
    input_mime_types=VIDEO_MIME_TYPES,
    output_mime_type="image/png",
)
CONTACT_SHEET = "contact_sheet"

SLIDESHOW = ModelSpec(
    id="slideshow",
    display_name="ffmpeg: a still or a slideshow as video",
    description=(
        f"One image held for duration_s, or up to {MAX_SLIDESHOW_IMAGES} images shown in order, "
        "each for an equal share of duration_s, letterboxed to one size. H.264 mp4 or VP9 webm, "
        "no audio. ffmpeg on the CPU; progress follows the video time written."
    ),
    capabilities=(Capability.IMAGE_TO_VIDEO,),
    parameters=(
        standard_param(
            "duration_s",
            note="Several images share it equally.",
            default=5.0,
            minimum=0.1,
            maximum=600.0,
        ),
        _fps(),
        _side(
            "width",
            "Rounded down to even. Leave out width and height to take the first image's size (fitted "
            "within 3840 x 2160); give one and the other follows its aspect.",
            16,
            3840,
        ),
        _side("height", "Rounded down to even.", 16, 2160),
        _format(("mp4", "webm"), "ffmpeg: mp4 (H.264) or webm (VP9)."),
    ),
    input_mime_types=IMAGE_MIME_TYPES,
    output_mime_type="video/mp4",
    max_inputs=MAX_SLIDESHOW_IMAGES,
)

_COLOR_HELP = f"A color name ({', '.join(COLOR_NAMES)}) or #RRGGBB."

TITLE_CARD = ModelSpec(
    id="title-card",
    display_name="ffmpeg: a title card",
    description=(
        "The input text drawn centered in DejaVu Sans on a plain background, wrapped to the width "
        "(and shrunk to fit the height), "
        "for duration_s. H.264 mp4 or VP9 webm, no audio. Procedural (ffmpeg's drawtext), not a "
        f"generative model. At most {MAX_TITLE_CHARACTERS} characters."
    ),
    capabilities=(Capability.TEXT_TO_VIDEO,),
    parameters=(
        standard_param("duration_s", default=5.0, minimum=0.5, maximum=600.0),
        _side("width", "Rounded down to even.", 64, 3840, default=1280),
        _side("height", "Rounded down to even.", 64, 2160, default=720),
        Param(
            "font_size",
            "integer",
            "Font size in pixels; smaller where the wrapped text would not fit the height otherwise.",
            default=72,
            minimum=8,
            maximum=400,
        ),
        Param("text_color", "string", _COLOR_HELP, default="white", max_length=16),
        Param("background_color", "string", _COLOR_HELP, default="black", max_length=16),
        _fps(),
        _format(("mp4", "webm"), "ffmpeg: mp4 (H.264) or webm (VP9)."),
    ),
    input_mime_types=("text/plain",),
    output_mime_type="video/mp4",
)

MODELS = (EXTRACT_AUDIO, CONVERT_AUDIO, TRANSCODE, FRAMES, SLIDESHOW, TITLE_CARD)
