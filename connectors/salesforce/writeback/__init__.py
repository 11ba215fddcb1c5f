"""The writeback to Salesforce behind target-crm2-salesforce: config, diff, send, recover, report."""
