"""The crm2 console (`crm2 serve`): a server-rendered web interface over the store."""
