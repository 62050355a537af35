"""The recording domain: audio checks and transcoding, envelope encryption, retention, access."""
