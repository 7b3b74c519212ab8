"""The bottom layer every stage shares: settings, errors, the home's files, geography and the
drug taxonomy. It imports nothing from `features`, `models`, `training` or `serving`."""
