//! Removing what dockhand created.

use bollard::query_parameters::RemoveContainerOptionsBuilder;

/// Force-removes a container with its anonymous volumes. A container that is
/// already gone counts as removed.
pub(crate) async fn remove_container(
    docker: &bollard::Docker,
    id: &str,
) -> Result<(), bollard::errors::Error> {
    tracing::debug!(container = %id, "engine: remove (force, with anonymous volumes)");
    let opts = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(id, Some(opts)).await {
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        // 409: a removal of this container is already in progress.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            message,
        }) if message.contains("already in progress") => Ok(()),
        other => other,
    }
}
