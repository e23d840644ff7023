//! Images on the engine: pulling what is missing.

use bollard::query_parameters::CreateImageOptionsBuilder;
use futures::StreamExt;

use crate::engine::Engine;
use crate::error::{Error, Result};

/// Splits `name[:tag][@digest]` into what the pull API wants.
pub(crate) fn split_reference(image: &str) -> (&str, &str) {
    if image.contains('@') {
        return (image, "");
    }
    // A colon after the last slash is a tag; before it, a registry port.
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => (&image[..i], &image[i + 1..]),
        _ => (image, "latest"),
    }
}

/// Pulls `image`, reporting progress through tracing.
pub(crate) async fn pull(engine: &Engine, image: &str) -> Result<()> {
    let (from_image, tag) = split_reference(image);
    let mut opts = CreateImageOptionsBuilder::default().from_image(from_image);
    if !tag.is_empty() {
        opts = opts.tag(tag);
    }
    tracing::info!(%image, "pulling image");
    let mut stream = engine.docker().create_image(Some(opts.build()), None, None);
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                    return Err(Error::ImageNotFound {
                        image: image.to_string(),
                        message: detail,
                    });
                }
                tracing::debug!(%image, status = ?info.status, progress = ?info.progress_detail, "pull");
            }
            Err(bollard::errors::Error::DockerResponseServerError { message, .. }) => {
                return Err(Error::ImageNotFound {
                    image: image.to_string(),
                    message,
                })
            }
            Err(e) => return Err(Error::engine(format!("pull image `{image}`"), e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_reference;

    #[test]
    fn references_split_at_the_tag() {
        assert_eq!(split_reference("postgres:16"), ("postgres", "16"));
        assert_eq!(split_reference("postgres"), ("postgres", "latest"));
        assert_eq!(
            split_reference("127.0.0.1:5000/x/y:1"),
            ("127.0.0.1:5000/x/y", "1")
        );
        assert_eq!(
            split_reference("127.0.0.1:5000/x/y"),
            ("127.0.0.1:5000/x/y", "latest")
        );
    }
}
