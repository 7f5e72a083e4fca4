"""The staff side of reports: the inbox, the report page, replies, notes and status changes."""
