from pulpcore.plugin import PulpPluginAppConfig


class PulpHuggingFacePluginAppConfig(PulpPluginAppConfig):
    """Entry point for the Hugging Face plugin."""

    name = "pulp_hugging_face.app"
    label = "hugging_face"
    version = "0.1.0.dev0"
    python_package_name = "pulp-hugging-face"
    domain_compatible = True

    def ready(self):
        super().ready()
        from . import signals

        signals.connect()
