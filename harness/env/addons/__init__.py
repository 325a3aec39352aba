"""Add-ons: one small module per add-on, the engine they share (:mod:`.engine`) and the catalog of
names that installs them in order (:mod:`.catalog`)."""
