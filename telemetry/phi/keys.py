"""Key classes: which attribute and field names are safe, which carry PHI, which are unknown."""

from __future__ import annotations

from enum import Enum
from functools import lru_cache

from telemetry.attributes import PREFIX as PROJECT_PREFIX


class KeyClass(Enum):
    SAFE = "safe"
    PHI = "phi"
    UNKNOWN = "unknown"


# Attribute keys whose values are operational metadata. Their string values are still scanned
# for patterns. Sources: OpenTelemetry semantic conventions (resource, FaaS, cloud, RPC, AWS
# SDK, HTTP, DB) and the keys that the botocore and requests instrumentations 0.66b2 emit.
SAFE_KEYS = frozenset(
    {
        "service.name",
        "service.version",
        "service.instance.id",
        "deployment.environment",
        "deployment.environment.name",
        "telemetry.sdk.name",
        "telemetry.sdk.language",
        "telemetry.sdk.version",
        "retry_attempts",
        "exception.type",
        "exception.escaped",
        "error.type",
        "otel.status_code",
        "otel.scope.name",
        "otel.kind",
    }
)
SAFE_PREFIXES = (
    PROJECT_PREFIX,
    "faas.",
    "cloud.",
    "rpc.",
    "aws.",
    "http.",
    "url.",
    "net.",
    "server.",
    "network.",
    "db.",
    "code.",
    "thread.",
)
# Keys under a safe prefix that can still carry data: attribute names of items, partition-key
# values in DynamoDB item collection metrics, query text and bodies.
UNSAFE_UNDER_SAFE_PREFIX = frozenset(
    {
        "aws.dynamodb.projection",
        "aws.dynamodb.item_collection_metrics",
        "aws.dynamodb.key_conditions",
        "aws.dynamodb.filter_expression",
        "db.statement",
        "db.query.text",
        "http.request.body",
        "http.response.body",
        "url.query",
    }
)

# Final key segments that carry PHI or secrets, compared lower-cased with `_`, `-` and spaces
# removed. Grouped by HIPAA Safe Harbor identifier (45 CFR 164.514(b)(2)).
PHI_KEY_NAMES = frozenset(
    {
        # (A) names
        "patient", "patientname", "name", "firstname", "lastname", "middlename", "fullname",
        "givenname", "familyname", "surname", "maidenname", "displayname", "username",
        "nickname", "preferredname", "reporter", "assignee", "creator", "author",
        # (B) geographic subdivisions smaller than a state
        "address", "streetaddress", "street", "addressline1", "addressline2", "city", "county",
        "zip", "zipcode", "postalcode", "postcode", "geolocation", "latitude", "longitude",
        # (C) dates related to a person
        "dob", "dateofbirth", "birthdate", "birthday", "admissiondate", "dischargedate",
        "dateofdeath", "deathdate", "dateofservice",
        # (D-F) phone and fax numbers, email addresses
        "phone", "phonenumber", "telephone", "mobile", "cell", "fax", "faxnumber", "email",
        "emailaddress", "mail",
        # (G-L) SSN, record, plan, account and licence numbers
        "ssn", "socialsecuritynumber", "mrn", "medicalrecordnumber", "healthplanid",
        "healthplannumber", "beneficiaryid", "beneficiarynumber", "memberid", "membernumber",
        "policynumber", "accountnumber", "accountid", "bankaccount", "iban", "cardnumber",
        "licensenumber", "licencenumber", "driverslicense", "certificatenumber", "npi",
        # (L-M) vehicle and device identifiers
        "vin", "vehicleid", "licenseplate", "licenceplate", "deviceid", "deviceserial",
        "serialnumber", "imei", "macaddress", "udid",
        # (N-O) URLs and IP addresses that identify a person
        "ipaddress", "ip", "clientip", "remoteaddr", "remoteaddress", "sourceip", "homepage",
        "websiteurl", "avatarurls",
        # (P-Q) biometrics and photographs
        "biometric", "fingerprintdata", "photo", "photograph", "avatar", "image",
        # free text, where patterns cannot find names
        "summary", "description", "comment", "comments", "body", "note", "notes", "text",
        "message", "detail", "details", "diagnosis", "reason",
        # credentials
        "authorization", "password", "passwd", "secret", "token", "apitoken", "apikey",
        "accesstoken", "refreshtoken", "cookie", "setcookie", "dsn",
    }
)


@lru_cache(maxsize=4096)
def classify_key(key: str) -> KeyClass:
    """Classify an attribute or field name as safe, PHI-bearing or unknown."""
    lowered = key.lower()
    if lowered in UNSAFE_UNDER_SAFE_PREFIX:
        return KeyClass.PHI
    if lowered in SAFE_KEYS or lowered.startswith(SAFE_PREFIXES):
        return KeyClass.SAFE
    last_segment = lowered.rsplit(".", 1)[-1]
    if _squash(last_segment) in PHI_KEY_NAMES:
        return KeyClass.PHI
    return KeyClass.UNKNOWN


def _squash(segment: str) -> str:
    return segment.replace("_", "").replace("-", "").replace(" ", "")
