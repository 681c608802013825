"""Container services: `prizm.service.yml` manifests and their containers' lives through Docker."""

from prizm_core.services.manifest import MANIFEST_FILE, ManifestError, ServiceManifest, load_manifest

__all__ = ["MANIFEST_FILE", "ManifestError", "ServiceManifest", "load_manifest"]
