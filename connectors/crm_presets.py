"""Column names of common CRM exports, and their stage names, per record type.

Each field lists the columns it may come from, first present wins (domains:
every present column counts). Names are matched case-insensitively, so small
differences between export screens don't matter. `mapping:` in config
overrides any field.
"""

from __future__ import annotations

ACCOUNT_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    # Account and opportunity report exports (Reports > Export > Details only).
    "salesforce": {
        "name": ("Account Name", "Account: Account Name", "Account"),
        "domains": ("Website", "Account: Website", "Account Website"),
        "owner": ("Account Owner", "Opportunity Owner", "Account Owner: Full Name", "Owner"),
        "stage": ("Stage", "Opportunity Stage", "Type", "Account Type"),
        "industry": ("Industry", "Account: Industry"),
        "people": ("Primary Contact", "Contact Name", "Contact: Full Name"),
    },
    # Companies > Export.
    "hubspot": {
        "name": ("Company name", "Name"),
        "domains": ("Company Domain Name", "Website URL", "Domain"),
        "owner": ("Company owner", "HubSpot Owner", "Owner"),
        "stage": ("Lifecycle Stage", "Lifecycle stage"),
        "industry": ("Industry",),
        "people": ("Associated Contact", "Primary contact"),
    },
    # Organizations > Export (list view columns are prefixed with the entity).
    "pipedrive": {
        "name": ("Organization - Name", "Name", "Organization"),
        "domains": ("Organization - Website", "Website"),
        "owner": ("Organization - Owner", "Owner"),
        "stage": ("Organization - Label", "Label", "Deal - Stage", "Stage"),
        "industry": ("Organization - Industry", "Industry"),
        "people": ("Organization - People", "People"),
    },
}

ACTIVITY_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "salesforce": {
        "account": ("Company / Account", "Account Name", "Account", "Related To"),
        "subject": ("Subject",),
        "body": ("Comments", "Full Comments", "Description"),
        "date": ("Date", "Activity Date", "Due Date", "Created Date"),
        "author": ("Assigned", "Assigned To", "Created By"),
        "id": ("Activity ID", "Task ID"),
    },
    "hubspot": {
        "account": ("Associated Company", "Associated Company (Primary)", "Company name"),
        "subject": ("Subject", "Activity subject", "Note title"),
        "body": ("Note body", "Body", "Notes", "Activity body"),
        "date": ("Activity date", "Create date", "Created at"),
        "author": ("Activity assigned to", "Created by", "HubSpot owner"),
        "id": ("Record ID", "Activity ID"),
    },
    "pipedrive": {
        "account": ("Organization - Name", "Organization"),
        "subject": ("Activity - Subject", "Subject"),
        "body": ("Activity - Note", "Note - Content", "Note", "Content"),
        "date": ("Activity - Due date", "Note - Add time", "Due date", "Add time"),
        "author": ("Activity - Assigned to user", "Note - User", "Assigned to user", "User"),
        "id": ("Activity - ID", "Note - ID", "ID"),
    },
}

# CRM stage names (lower case) -> prospect-intel's sales stages.
STAGE_NAMES: dict[str, dict[str, str]] = {
    "salesforce": {
        "prospecting": "prospecting", "prospect": "prospecting", "qualification": "qualifying",
        "needs analysis": "qualifying", "id. decision makers": "qualifying", "value proposition": "proposing",
        "perception analysis": "proposing", "proposal/price quote": "pricing", "negotiation/review": "negotiating",
        "closed won": "delivering", "customer - direct": "servicing", "customer - channel": "servicing",
    },
    "hubspot": {
        "subscriber": "prospecting", "lead": "prospecting", "marketing qualified lead": "qualifying",
        "marketingqualifiedlead": "qualifying", "sales qualified lead": "qualifying",
        "salesqualifiedlead": "qualifying", "opportunity": "proposing", "customer": "servicing",
        "evangelist": "servicing",
    },
    "pipedrive": {
        "cold lead": "prospecting", "warm lead": "qualifying", "hot lead": "proposing", "customer": "servicing",
        "lead in": "prospecting", "contact made": "qualifying", "demo scheduled": "qualifying",
        "proposal made": "proposing", "negotiations started": "negotiating",
    },
}
