"""The tar format pieces shared by images, volumes and cp (design.md's ``archive/``):
below both, so the volume package can use them without importing the image package."""
