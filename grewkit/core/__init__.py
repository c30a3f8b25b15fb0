"""Infrastructure shared by every stage: project folder, settings, schemas, manifests, runner."""
