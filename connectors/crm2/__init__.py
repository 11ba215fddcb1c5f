"""The crm2 hub: ``target-crm2``, the Singer target that maps any tap's streams into the crm2 store."""
