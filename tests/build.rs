//! Dockerfile builds and their content-hashed cache, against the real engine.
mod common;

use common::images::{image_id, image_labels, started, unique_repo, Cleanup};
use dockhand::{ContainerSpec, Error, ImageBuild};

/// A context folder: a Dockerfile copying a few files, a `.dockerignore`.
fn context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let dockerfile = format!(
        "FROM {}\nARG GREETING=hello\nCOPY . /ctx/\nRUN echo \"$GREETING\" > /greeting\nCMD [\"cat\", \"/ctx/app.txt\"]\n",
        common::image()
    );
    std::fs::write(p.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(
        p.join(".dockerignore"),
        "*.log\nscratch/\n!scratch/keep.txt\n",
    )
    .unwrap();
    std::fs::write(p.join("app.txt"), "v1\n").unwrap();
    std::fs::create_dir(p.join("conf")).unwrap();
    std::fs::write(p.join("conf/app.conf"), "port=1\n").unwrap();
    std::fs::write(p.join("debug.log"), "noise 1\n").unwrap();
    std::fs::create_dir(p.join("scratch")).unwrap();
    std::fs::write(p.join("scratch/tmp.txt"), "tmp 1\n").unwrap();
    std::fs::write(p.join("scratch/keep.txt"), "keep 1\n").unwrap();
    dir
}

fn created(reference: &str) -> Option<String> {
    let reference = reference.to_string();
    common::engine_call(move |docker| async move {
        docker
            .inspect_image(&reference)
            .await
            .ok()
            .and_then(|i| i.created)
    })
}

async fn run_cat(image: &str, path: &str) -> String {
    let c = started(ContainerSpec::new(image)).await;
    let out = c.exec(["cat", path]).await.unwrap();
    out.stdout
}

#[tokio::test]
async fn unchanged_context_is_neither_rebuilt_nor_uploaded() {
    let mut cleanup = Cleanup::default();
    let ctx = context();
    let name = unique_repo("cache");
    let first = ImageBuild::from_dir(ctx.path())
        .name(&name)
        .build_report()
        .await
        .unwrap();
    cleanup.add(&first.reference);
    assert!(first.built && first.uploaded_bytes > 0);
    assert!(first.reference.starts_with(&format!("{name}:")));
    let (id, at) = (image_id(&first.reference), created(&first.reference));

    let again = ImageBuild::from_dir(ctx.path())
        .name(&name)
        .build_report()
        .await
        .unwrap();
    assert_eq!(again.reference, first.reference);
    assert!(!again.built, "an unchanged context was built again");
    assert_eq!(again.uploaded_bytes, 0);
    assert!(again.log.is_empty());
    assert_eq!(
        (image_id(&again.reference), created(&again.reference)),
        (id, at)
    );

    // The image has what the context had, minus what .dockerignore leaves out.
    assert_eq!(run_cat(&first.reference, "/ctx/app.txt").await, "v1\n");
    assert_eq!(
        run_cat(&first.reference, "/ctx/scratch/keep.txt").await,
        "keep 1\n"
    );
    // An image built here is local: even `always` does not try to pull it.
    let c = started(ContainerSpec::new(&first.reference).pull_policy(dockhand::PullPolicy::Always))
        .await;
    let ls = c.exec(["ls", "/ctx", "/ctx/scratch"]).await.unwrap().stdout;
    assert!(!ls.contains("debug.log") && !ls.contains("tmp.txt"), "{ls}");
    // Built images carry the session labels.
    let labels = image_labels(&first.reference);
    assert_eq!(
        labels.get(dockhand::LABEL_SESSION).map(String::as_str),
        Some(dockhand::session_id())
    );
    assert_eq!(labels.get(dockhand::LABEL_TEMPORARY), None);
}

#[tokio::test]
async fn a_changed_file_rebuilds_an_ignored_one_does_not() {
    let mut cleanup = Cleanup::default();
    let ctx = context();
    let build = || {
        ImageBuild::from_dir(ctx.path())
            .name(unique_repo_once())
            .build_report()
    };
    let first = build().await.unwrap();
    cleanup.add(&first.reference);

    // Files .dockerignore leaves out change nothing.
    std::fs::write(ctx.path().join("debug.log"), "noise 2\n").unwrap();
    std::fs::write(ctx.path().join("scratch/tmp.txt"), "tmp 2\n").unwrap();
    let ignored = build().await.unwrap();
    assert_eq!(ignored.reference, first.reference);
    assert!(!ignored.built);

    // A file the build sees gives a new image, never the stale one.
    std::fs::write(ctx.path().join("conf/app.conf"), "port=2\n").unwrap();
    let changed = build().await.unwrap();
    cleanup.add(&changed.reference);
    assert_ne!(changed.reference, first.reference);
    assert!(changed.built);
    assert_eq!(
        run_cat(&changed.reference, "/ctx/conf/app.conf").await,
        "port=2\n"
    );

    // So does a file .dockerignore brings back with `!`.
    std::fs::write(ctx.path().join("scratch/keep.txt"), "keep 2\n").unwrap();
    let kept = build().await.unwrap();
    cleanup.add(&kept.reference);
    assert_ne!(kept.reference, changed.reference);
}

/// One repository name per test binary run, for tests building one context repeatedly.
fn unique_repo_once() -> String {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| unique_repo("rebuild")).clone()
}

#[tokio::test]
async fn build_args_and_target_change_the_tag() {
    let mut cleanup = Cleanup::default();
    let name = unique_repo("args");
    let dockerfile = format!(
        "FROM {img} AS base\nARG FLAVOUR=plain\nRUN echo \"$FLAVOUR\" > /flavour\n\
         FROM base AS extra\nRUN echo extra > /stage\n\
         FROM base AS final\nRUN echo final > /stage\n",
        img = common::image()
    );
    let build = |b: ImageBuild| {
        let name = name.clone();
        async move { b.name(name).build().await.unwrap() }
    };
    let base = ImageBuild::from_dockerfile(dockerfile.clone());
    let plain = cleanup.add(build(base.clone()).await);
    let spicy = cleanup.add(build(base.clone().arg("FLAVOUR", "spicy")).await);
    let extra = cleanup.add(build(base.clone().target("extra")).await);
    assert_ne!(plain, spicy);
    assert_ne!(plain, extra);
    assert_eq!(run_cat(&plain, "/flavour").await, "plain\n");
    assert_eq!(run_cat(&spicy, "/flavour").await, "spicy\n");
    assert_eq!(run_cat(&plain, "/stage").await, "final\n");
    assert_eq!(run_cat(&extra, "/stage").await, "extra\n");
}

#[tokio::test]
async fn a_failing_run_step_names_the_step_and_shows_the_output() {
    let dockerfile = format!(
        "FROM {}\nRUN echo preparing\nRUN echo about-to-fail && exit 3\nRUN echo never\n",
        common::image()
    );
    let err = ImageBuild::from_dockerfile(dockerfile)
        .name(unique_repo("failing"))
        .build()
        .await
        .unwrap_err();
    let Error::BuildFailed {
        step,
        message,
        output,
        ..
    } = &err
    else {
        panic!("expected BuildFailed, got {err}");
    };
    assert!(step.contains("RUN echo about-to-fail && exit 3"), "{step}");
    assert!(message.contains("returned a non-zero code: 3"), "{message}");
    assert!(output.contains("about-to-fail"), "{output}");
    assert!(!output.contains("never"), "{output}");
    assert!(err.to_string().contains("about-to-fail"), "{err}");
}

#[tokio::test]
async fn a_bad_dockerfile_is_reported() {
    let err = ImageBuild::from_dockerfile("FROMM nothing\n")
        .name(unique_repo("bad"))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BuildFailed { .. }), "{err}");
    assert!(
        err.to_string()
            .to_lowercase()
            .contains("unknown instruction"),
        "{err}"
    );

    let err = ImageBuild::from_dir(tempfile::tempdir().unwrap().path())
        .build()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no Dockerfile"), "{err}");
}

#[tokio::test]
async fn inline_and_tar_contexts() {
    let mut cleanup = Cleanup::default();
    let dockerfile = format!(
        "FROM {}\nCOPY greeting.txt /greeting.txt\n",
        common::image()
    );
    let inline = ImageBuild::from_dockerfile(dockerfile.clone())
        .file("greeting.txt", "from inline\n")
        .name(unique_repo("inline"))
        .build()
        .await
        .unwrap();
    cleanup.add(&inline);
    assert_eq!(run_cat(&inline, "/greeting.txt").await, "from inline\n");

    let mut tar = tar::Builder::new(Vec::new());
    for (path, body) in [
        ("Dockerfile", dockerfile.as_str()),
        ("greeting.txt", "from tar\n"),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, path, body.as_bytes()).unwrap();
    }
    let from_tar = ImageBuild::from_tar(tar.into_inner().unwrap())
        .name(unique_repo("tar"))
        .build()
        .await
        .unwrap();
    cleanup.add(&from_tar);
    assert_eq!(run_cat(&from_tar, "/greeting.txt").await, "from tar\n");
}

#[tokio::test]
async fn temporary_images_are_removed_when_the_last_handle_drops() {
    let build = ImageBuild::from_dockerfile(format!(
        "FROM {}\nLABEL purpose=temporary-test\n",
        common::image()
    ))
    .name(unique_repo("temporary"));
    let image = build.clone().build_temporary().await.unwrap();
    let reference = image.reference().to_string();
    assert!(reference.contains("-tmp-"), "{reference}");
    let labels = image_labels(&reference);
    assert_eq!(
        labels.get(dockhand::LABEL_TEMPORARY).map(String::as_str),
        Some("true")
    );

    // The same context again, while a handle lives: the same image.
    let again = build.clone().build_temporary().await.unwrap();
    assert_eq!(again.reference(), reference);
    let c = started(ContainerSpec::new(again.reference())).await;
    drop(c);
    drop(image);
    assert!(
        image_id(&reference).is_some(),
        "removed while a handle lives"
    );
    again.remove().await.unwrap();
    assert!(
        image_id(&reference).is_none(),
        "temporary image {reference} still exists"
    );

    // Once gone, a new build makes a new image; dropping removes it.
    let fresh = build.build_temporary().await.unwrap();
    let fresh_ref = fresh.reference().to_string();
    assert_ne!(fresh_ref, reference);
    drop(fresh);
    assert!(image_id(&fresh_ref).is_none(), "{fresh_ref} still exists");
}

#[test]
fn blocking_build_from_a_folder() {
    let mut cleanup = Cleanup::default();
    let ctx = context();
    let reference = ImageBuild::from_dir(ctx.path())
        .name(unique_repo("blocking"))
        .build_blocking()
        .unwrap();
    cleanup.add(&reference);
    assert!(image_id(&reference).is_some());
}

#[tokio::test]
async fn from_images_in_a_private_registry_need_credentials() {
    let mut cleanup = Cleanup::default();
    let registry = common::images::auth_registry();
    let base = cleanup.add(format!("{registry}/{}:1", unique_repo("private-base")));
    common::images::tag(&common::image(), &base);
    dockhand::ImagePush::new(&base)
        .credentials(common::images::credentials())
        .run()
        .await
        .unwrap();
    common::images::remove_image(&base);

    let no_config = tempfile::tempdir().unwrap();
    std::fs::write(no_config.path().join("config.json"), "{}").unwrap();
    let name = unique_repo("private");
    let build = || {
        ImageBuild::from_dockerfile(format!("FROM {base}\nRUN echo built > /built\n"))
            .name(&name)
            .docker_config(no_config.path())
    };
    let err = build().build().await.unwrap_err();
    let Error::BuildFailed { step, message, .. } = &err else {
        panic!("expected BuildFailed, got {err}");
    };
    assert!(step.contains("FROM"), "{step}");
    assert!(message.contains("auth"), "{message}");

    let image = build()
        .registry_credentials(&registry, common::images::credentials())
        .build()
        .await
        .unwrap();
    cleanup.add(&image);
    assert_eq!(run_cat(&image, "/built").await, "built\n");
}
