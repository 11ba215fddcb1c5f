"""The stand-in org's metadata: which sObjects and fields exist, and their describe results.

Objects and fields follow docs/synthetic-data.md plus the standard system fields every sObject
has (Id, IsDeleted, CreatedDate, SystemModstamp, ...) and crm2's writeback fields on Account.
Everything else in the stand-in (storage columns, validation, SOQL field checks, describe) is
derived from these definitions, so a field added here exists everywhere at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

# How a Salesforce field type is stored and compared (see values.py).
Storage = Literal["text", "id", "bool", "int", "double", "currency", "date", "datetime"]

_STORAGE: dict[str, Storage] = {
    "id": "id", "reference": "id", "boolean": "bool", "int": "int", "double": "double", "percent": "double",
    "currency": "currency", "date": "date", "datetime": "datetime",
}
_SOAP_TYPE = {
    "id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int", "double": "xsd:double",
    "percent": "xsd:double", "currency": "xsd:double", "date": "xsd:date", "datetime": "xsd:dateTime",
    "address": "urn:address",
}


@dataclass(frozen=True)
class FieldDef:
    """One field as describe reports it; the flags mirror describe's own names."""

    name: str
    type: str
    label: str = ""
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False
    external_id: bool = False
    unique: bool = False
    id_lookup: bool = False
    name_field: bool = False
    auto_number: bool = False
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    precision: int = 0
    scale: int = 0
    digits: int = 0
    components: tuple[str, ...] = ()
    """For compound fields (address): the stored fields it is built from, in its key order."""

    @property
    def storage(self) -> Storage:
        return _STORAGE.get(self.type, "text")

    @property
    def compound(self) -> bool:
        return bool(self.components)

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @property
    def required_on_create(self) -> bool:
        return self.createable and not self.nillable and not self.defaulted_on_create

    @property
    def display_label(self) -> str:
        return self.label or _label(self.name)

    def describe(self) -> dict[str, Any]:
        """The field's entry in ``describe().fields``."""
        byte_length = self.length * 3 if self.storage == "text" else (18 if self.storage == "id" else 0)
        return {
            "aggregatable": self.type not in ("textarea", "address"),
            "autoNumber": self.auto_number,
            "byteLength": byte_length,
            "calculated": False,
            "calculatedFormula": None,
            "cascadeDelete": False,
            "caseSensitive": False,
            "compoundFieldName": None,
            "controllerName": None,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": None,
            "defaultedOnCreate": self.defaulted_on_create,
            "dependentPicklist": False,
            "deprecatedAndHidden": False,
            "digits": self.digits,
            "externalId": self.external_id,
            "filterable": self.type != "textarea" or self.length <= 255,
            "groupable": self.storage in ("text", "id", "bool", "int", "date") and self.type != "textarea",
            "htmlFormatted": False,
            "idLookup": self.id_lookup,
            "inlineHelpText": None,
            "label": self.display_label,
            "length": self.length,
            "name": self.name,
            "nameField": self.name_field,
            "namePointing": False,
            "nillable": self.nillable,
            "permissionable": self.nillable and not self.name_field and self.createable,
            "picklistValues": [
                {"active": True, "defaultValue": False, "label": value, "validFor": None, "value": value}
                for value in self.picklist
            ],
            "polymorphicForeignKey": len(self.reference_to) > 1,
            "precision": self.precision,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "relationshipOrder": None,
            "restrictedPicklist": self.restricted,
            "scale": self.scale,
            "soapType": _SOAP_TYPE.get(self.type, "xsd:string"),
            "sortable": self.type not in ("textarea", "address"),
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
        }


@dataclass(frozen=True)
class SObjectDef:
    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: tuple[FieldDef, ...]
    mergeable: bool = False
    by_name: dict[str, FieldDef] = field(default_factory=dict, compare=False, repr=False)
    by_lower: dict[str, FieldDef] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_name.update({f.name: f for f in self.fields})
        # Field names are case-insensitive in SOQL and in JSON bodies.
        self.by_lower.update({f.name.lower(): f for f in self.fields})

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    def field(self, name: str) -> FieldDef | None:
        return self.by_lower.get(name.lower())

    @property
    def stored_fields(self) -> list[FieldDef]:
        return [f for f in self.fields if not f.compound]

    @property
    def external_id_fields(self) -> list[FieldDef]:
        return [f for f in self.fields if f.external_id]

    def urls(self, version: str) -> dict[str, str]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {"compactLayouts": f"{base}/describe/compactLayouts", "rowTemplate": f"{base}/{{ID}}",
                "describe": f"{base}/describe", "sobject": base}

    def summary(self, version: str) -> dict[str, Any]:
        """The object's entry in describeGlobal (``GET /sobjects``)."""
        return {
            "activateable": False, "createable": True, "custom": self.custom, "customSetting": False,
            "deepCloneable": False, "deletable": True, "deprecatedAndHidden": False, "feedEnabled": False,
            "hasSubtypes": False, "isInterface": False, "isSubtype": False, "keyPrefix": self.key_prefix,
            "label": self.label, "labelPlural": self.label_plural, "layoutable": True, "mergeable": self.mergeable,
            "mruEnabled": True, "name": self.name, "queryable": True, "replicateable": True, "retrieveable": True,
            "searchable": True, "triggerable": True, "undeletable": True, "updateable": True,
            "urls": self.urls(version),
        }

    def describe(self, version: str) -> dict[str, Any]:
        """``GET /sobjects/{name}/describe``."""
        return {
            **self.summary(version),
            "actionOverrides": [], "childRelationships": [], "compactLayoutable": True, "fields":
            [f.describe() for f in self.fields], "listviewable": None, "lookupLayoutable": None,
            "namedLayoutInfos": [], "networkScopeFieldName": None, "recordTypeInfos": [], "searchLayoutable": True,
            "sobjectDescribeOption": "FULL", "supportedScopes": [{"label": "All", "name": "everything"}],
        }


def _label(name: str) -> str:
    base = name.removesuffix("__c").replace("_", " ")
    if base.endswith("Id") and len(base) > 2:
        base = base[:-2]
    out = []
    for i, ch in enumerate(base):
        if i and ch.isupper() and base[i - 1].islower():
            out.append(" ")
        out.append(ch)
    return "".join(out).strip()


def _text(name: str, length: int = 255, **kw: Any) -> FieldDef:
    return FieldDef(name, "string", length=length, **kw)


def _ref(name: str, *targets: str, relationship: str | None = None, **kw: Any) -> FieldDef:
    rel = relationship or (name[:-2] if name.endswith("Id") else name.replace("__c", "__r"))
    return FieldDef(name, "reference", length=18, reference_to=targets, relationship_name=rel, **kw)


def _pick(name: str, values: Iterable[str], *, restricted: bool = False, **kw: Any) -> FieldDef:
    return FieldDef(name, "picklist", length=255, picklist=tuple(values), restricted=restricted, **kw)


def _system_fields(object_name: str, *, owner: bool = True, mergeable: bool = False) -> list[FieldDef]:
    ro: dict[str, Any] = {"createable": False, "updateable": False}
    fields = [
        FieldDef("Id", "id", label=f"{_label(object_name)} ID", length=18, nillable=False, id_lookup=True,
                 defaulted_on_create=True, **ro),
        FieldDef("IsDeleted", "boolean", label="Deleted", nillable=False, defaulted_on_create=True, **ro),
    ]
    if mergeable:
        fields.append(_ref("MasterRecordId", object_name, relationship="MasterRecord", label="Master Record ID",
                           **ro))
    if owner:
        fields.append(_ref("OwnerId", "User", relationship="Owner", label="Owner ID", nillable=False,
                           defaulted_on_create=True))
    fields += [
        FieldDef("CreatedDate", "datetime", label="Created Date", nillable=False, defaulted_on_create=True, **ro),
        _ref("CreatedById", "User", relationship="CreatedBy", label="Created By ID", nillable=False,
             defaulted_on_create=True, **ro),
        FieldDef("LastModifiedDate", "datetime", label="Last Modified Date", nillable=False,
                 defaulted_on_create=True, **ro),
        _ref("LastModifiedById", "User", relationship="LastModifiedBy", label="Last Modified By ID",
             nillable=False, defaulted_on_create=True, **ro),
        FieldDef("SystemModstamp", "datetime", label="System Modstamp", nillable=False, defaulted_on_create=True,
                 **ro),
    ]
    return fields


def _address(prefix: str, components: tuple[str, ...]) -> FieldDef:
    return FieldDef(f"{prefix}Address", "address", label=f"{prefix} Address", createable=False, updateable=False,
                    components=components)


ACCOUNT_TYPES = ("Customer - Direct", "Customer - Channel", "Channel Partner / Reseller", "Installation Partner",
                 "Supplier", "Prospect", "Other")
INDUSTRIES = ("Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications", "Construction",
              "Consulting", "Education", "Electronics", "Energy", "Engineering", "Entertainment", "Environmental",
              "Finance", "Food & Beverage", "Government", "Healthcare", "Hospitality", "Insurance", "Machinery",
              "Manufacturing", "Media", "Not For Profit", "Recreation", "Retail", "Shipping", "Technology",
              "Telecommunications", "Transportation", "Utilities", "Other")
STAGES = ("Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
          "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost")
CLOSED_STAGES = {"Closed Won": True, "Closed Lost": False}
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "CNY", "JPY", "SEK", "PLN", "CAD", "AUD", "HKD", "SGD", "INR", "BRL")
TIERS = ("A", "B", "C")
LIFECYCLE_STAGES = ("onboarding", "growth", "stable", "at_risk", "churned", "terminated")

_BILLING = ("BillingStreet", "BillingCity", "BillingState", "BillingPostalCode", "BillingCountry")
_SHIPPING = ("ShippingStreet", "ShippingCity", "ShippingState", "ShippingPostalCode", "ShippingCountry")
RATINGS = ("Hot", "Warm", "Cold")
ACCOUNT_SOURCES = ("Advertisement", "Employee Referral", "External Referral", "Partner", "Public Relations",
                   "Seminar - Internal", "Seminar - Partner", "Trade Show", "Web", "Word of mouth", "Other")
OWNERSHIPS = ("Public", "Private", "Subsidiary", "Other")
_MAILING = ("MailingCountry",)


def _account() -> SObjectDef:
    fields = [
        *_system_fields("Account", mergeable=True),
        _text("Name", 255, label="Account Name", nillable=False, name_field=True),
        _pick("Type", ACCOUNT_TYPES, label="Account Type"),
        _ref("ParentId", "Account", relationship="Parent", label="Parent Account ID"),
        _pick("Industry", INDUSTRIES),
        FieldDef("Website", "url", length=255),
        FieldDef("Phone", "phone", length=40, label="Account Phone"),
        FieldDef("Fax", "phone", length=40, label="Account Fax"),
        _text("AccountNumber", 40, label="Account Number"),
        _text("Site", 80, label="Account Site"),
        _pick("AccountSource", ACCOUNT_SOURCES, label="Account Source"),
        FieldDef("AnnualRevenue", "currency", label="Annual Revenue", precision=18, scale=0),
        FieldDef("NumberOfEmployees", "int", label="Employees", digits=8),
        _pick("Ownership", OWNERSHIPS),
        _pick("Rating", RATINGS, label="Account Rating"),
        _text("Sic", 20, label="SIC Code"),
        _text("SicDesc", 80, label="SIC Description"),
        _text("TickerSymbol", 20, label="Ticker Symbol"),
        _text("YearStarted", 4, label="Year Started"),
        FieldDef("Description", "textarea", length=32000, label="Account Description"),
        FieldDef("BillingStreet", "textarea", length=255, label="Billing Street"),
        _text("BillingCity", 40, label="Billing City"),
        _text("BillingState", 80, label="Billing State/Province"),
        _text("BillingPostalCode", 20, label="Billing Zip/Postal Code"),
        _text("BillingCountry", 80, label="Billing Country"),
        _address("Billing", _BILLING),
        FieldDef("ShippingStreet", "textarea", length=255, label="Shipping Street"),
        _text("ShippingCity", 40, label="Shipping City"),
        _text("ShippingState", 80, label="Shipping State/Province"),
        _text("ShippingPostalCode", 20, label="Shipping Zip/Postal Code"),
        _text("ShippingCountry", 80, label="Shipping Country"),
        _address("Shipping", _SHIPPING),
        _text("Tax_Id__c", 32, label="Tax ID", external_id=True, id_lookup=True),
        _text("CRM2_Golden_Id__c", 64, label="CRM2 Golden ID", external_id=True, unique=True, id_lookup=True),
        _pick("CRM2_Tier__c", TIERS, restricted=True, label="CRM2 Tier"),
        FieldDef("CRM2_Health_Score__c", "double", label="CRM2 Health Score", precision=18, scale=4, digits=0),
        FieldDef("CRM2_Churn_Risk__c", "double", label="CRM2 Churn Risk", precision=18, scale=4),
        _text("CRM2_Churn_Reasons__c", 255, label="CRM2 Churn Reasons"),
        _pick("CRM2_Lifecycle_Stage__c", LIFECYCLE_STAGES, restricted=True, label="CRM2 Lifecycle Stage"),
        FieldDef("CRM2_CLV__c", "currency", label="CRM2 Customer Lifetime Value", precision=18, scale=2),
        FieldDef("CRM2_Forecast__c", "currency", label="CRM2 Revenue Forecast", precision=18, scale=2),
        FieldDef("CRM2_Scored_At__c", "datetime", label="CRM2 Scored At"),
    ]
    return SObjectDef("Account", "Account", "Accounts", "001", tuple(fields), mergeable=True)


def _contact() -> SObjectDef:
    fields = [
        *_system_fields("Contact", mergeable=True),
        _ref("AccountId", "Account", label="Account ID"),
        _text("FirstName", 40, label="First Name"),
        _text("LastName", 80, label="Last Name", nillable=False),
        _text("Name", 121, label="Full Name", nillable=False, createable=False, updateable=False,
              name_field=True),
        FieldDef("Email", "email", length=80),
        FieldDef("Phone", "phone", length=40, label="Business Phone"),
        FieldDef("MobilePhone", "phone", length=40, label="Mobile Phone"),
        _text("Title", 128),
        _text("MailingCountry", 80, label="Mailing Country"),
        _address("Mailing", _MAILING),
    ]
    return SObjectDef("Contact", "Contact", "Contacts", "003", tuple(fields), mergeable=True)


def _opportunity() -> SObjectDef:
    fields = [
        *_system_fields("Opportunity"),
        _ref("AccountId", "Account", label="Account ID"),
        _text("Name", 120, nillable=False, name_field=True),
        _pick("StageName", STAGES, label="Stage", nillable=False),
        FieldDef("Amount", "currency", precision=18, scale=2),
        _pick("CurrencyIsoCode", CURRENCIES, restricted=True, label="Opportunity Currency", nillable=False,
              defaulted_on_create=True),
        FieldDef("Probability", "percent", label="Probability (%)", precision=3, scale=0),
        FieldDef("CloseDate", "date", label="Close Date", nillable=False),
        FieldDef("IsClosed", "boolean", label="Closed", nillable=False, createable=False, updateable=False,
                 defaulted_on_create=True),
        FieldDef("IsWon", "boolean", label="Won", nillable=False, createable=False, updateable=False,
                 defaulted_on_create=True),
    ]
    return SObjectDef("Opportunity", "Opportunity", "Opportunities", "006", tuple(fields))


def _case() -> SObjectDef:
    fields = [
        *_system_fields("Case", mergeable=True),
        _text("CaseNumber", 30, label="Case Number", nillable=False, createable=False, updateable=False,
              auto_number=True, name_field=True, defaulted_on_create=True),
        _ref("AccountId", "Account", label="Account ID"),
        _ref("ContactId", "Contact", label="Contact ID"),
        _text("Subject", 255),
        _pick("Priority", ("Low", "Medium", "High", "Critical"), defaulted_on_create=True),
        _pick("Status", ("New", "Working", "Escalated", "Closed"), defaulted_on_create=True),
        _pick("Origin", ("Phone", "Email", "Web", "Chat"), label="Case Origin"),
        _pick("Type", ("Complaint", "Question", "Problem", "Feature Request"), label="Case Type"),
        FieldDef("First_Response_At__c", "datetime", label="First Response At"),
        FieldDef("ClosedDate", "datetime", label="Closed Date"),
    ]
    return SObjectDef("Case", "Case", "Cases", "500", tuple(fields), mergeable=True)


def _task() -> SObjectDef:
    fields = [
        *_system_fields("Task"),
        _ref("WhatId", "Account", "Opportunity", "Case", relationship="What", label="Related To ID"),
        _ref("WhoId", "Contact", relationship="Who", label="Name ID"),
        FieldDef("Subject", "combobox", length=255),
        _pick("TaskSubtype", ("Call", "Email", "Task", "ListEmail", "Cadence"), label="Task Subtype"),
        FieldDef("ActivityDate", "date", label="Due Date Only"),
        _pick("Status", ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"),
              nillable=False, defaulted_on_create=True),
    ]
    return SObjectDef("Task", "Task", "Tasks", "00T", tuple(fields))


def _event() -> SObjectDef:
    fields = [
        *_system_fields("Event"),
        _ref("WhatId", "Account", "Opportunity", "Case", relationship="What", label="Related To ID"),
        _ref("WhoId", "Contact", relationship="Who", label="Name ID"),
        FieldDef("Subject", "combobox", length=255),
        _pick("Type", ("Meeting", "Chat", "Social", "Call", "Email", "Other")),
        FieldDef("StartDateTime", "datetime", label="Start Date Time", nillable=False),
        FieldDef("EndDateTime", "datetime", label="End Date Time", nillable=False),
    ]
    return SObjectDef("Event", "Event", "Events", "00U", tuple(fields))


def _survey_response() -> SObjectDef:
    fields = [
        *_system_fields("Survey_Response__c"),
        _text("Name", 80, label="Survey Response Name", nillable=False, createable=False, updateable=False,
              auto_number=True, name_field=True, defaulted_on_create=True),
        _ref("Account__c", "Account", label="Account"),
        _ref("Contact__c", "Contact", label="Contact"),
        _pick("Survey_Type__c", ("CSAT", "NPS"), restricted=True, label="Survey Type"),
        FieldDef("Score__c", "double", label="Score", precision=3, scale=0),
        FieldDef("Comment__c", "textarea", length=32768, label="Comment"),
        FieldDef("Responded_At__c", "datetime", label="Responded At"),
    ]
    return SObjectDef("Survey_Response__c", "Survey Response", "Survey Responses", "a01", tuple(fields))


SOBJECTS: dict[str, SObjectDef] = {
    o.name: o for o in (_account(), _contact(), _opportunity(), _case(), _task(), _event(), _survey_response())
}
_BY_LOWER = {name.lower(): o for name, o in SOBJECTS.items()}
BY_PREFIX = {o.key_prefix: o for o in SOBJECTS.values()}
USER_PREFIX = "005"
ORG_PREFIX = "00D"


def sobject(name: str) -> SObjectDef | None:
    """Object names are case-insensitive in SOQL and in URLs."""
    return _BY_LOWER.get(name.lower())
