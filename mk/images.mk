# Images: the napops image and local stand-ins for third-party images (no registry needed).
.PHONY: images images-force
images: ## build the napops image and local stand-ins (incremental); writes compose/.images.env
	compose/bin/build-images

images-force: ## rebuild every image from scratch (mmdebstrap base included)
	NAPOPS_IMAGES_FORCE=1 compose/bin/build-images
