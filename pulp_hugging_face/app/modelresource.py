"""pulpcore import/export resources: a repository version's files *and* the metadata units
(revisions, Hub answers) travel together, so an imported version answers clients offline."""

from pulpcore.plugin.importexport import BaseContentResource
from pulpcore.plugin.modelresources import RepositoryResource

from pulp_hugging_face.app.models import (
    HuggingFaceContent,
    HuggingFaceMetadata,
    HuggingFaceRepository,
    HuggingFaceRevision,
)


class _VersionContentResource(BaseContentResource):
    """The units of one content type in the exported repository version."""

    def set_up_queryset(self):
        return self._meta.model.objects.filter(pk__in=self.repo_version.content)


class HuggingFaceContentResource(_VersionContentResource):
    class Meta:
        model = HuggingFaceContent
        import_id_fields = model.natural_key_fields()


class HuggingFaceRevisionResource(_VersionContentResource):
    class Meta:
        model = HuggingFaceRevision
        import_id_fields = model.natural_key_fields()


class HuggingFaceMetadataResource(_VersionContentResource):
    class Meta:
        model = HuggingFaceMetadata
        import_id_fields = model.natural_key_fields()


class HuggingFaceRepositoryResource(RepositoryResource):
    def set_up_queryset(self):
        return HuggingFaceRepository.objects.filter(pk=self.repo_version.repository)

    class Meta:
        model = HuggingFaceRepository


IMPORT_ORDER = [
    HuggingFaceContentResource,
    HuggingFaceRevisionResource,
    HuggingFaceMetadataResource,
    HuggingFaceRepositoryResource,
]
