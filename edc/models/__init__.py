"""All models, imported here so metadata is complete for Alembic and the app."""

from edc.models.audit import AuditEvent, AuditHead
from edc.models.base import Base
from edc.models.consent import ConsentScope, ConsentWithdrawal
from edc.models.crf import EventOccurrence, FormRecord, ItemValue
from edc.models.definitions import FormVersion, StudyDefinition
from edc.models.monitoring import (
    DataLock,
    DataQuery,
    ESignature,
    ItemVerification,
    MonitorVisit,
    QueryMessage,
    SdvPlan,
    SignatureCertification,
)
from edc.models.notices import Notice
from edc.models.registry import ExportJob, RegistryOutbox
from edc.models.studies import Site, Study
from edc.models.subjects import SiteCounter, Subject, SubjectIdentity
from edc.models.users import AccountLink, RecoveryCode, RoleAssignment, User, UserSession

__all__ = [
    "AccountLink",
    "AuditEvent",
    "AuditHead",
    "Base",
    "ConsentScope",
    "ConsentWithdrawal",
    "DataLock",
    "DataQuery",
    "ESignature",
    "EventOccurrence",
    "ExportJob",
    "FormRecord",
    "FormVersion",
    "ItemValue",
    "ItemVerification",
    "MonitorVisit",
    "Notice",
    "QueryMessage",
    "RecoveryCode",
    "RegistryOutbox",
    "RoleAssignment",
    "SdvPlan",
    "SignatureCertification",
    "Site",
    "SiteCounter",
    "Study",
    "StudyDefinition",
    "Subject",
    "SubjectIdentity",
    "User",
    "UserSession",
]
