fn spec() -> dockhand::ContainerSpec {
    dockhand::ContainerSpec::new("busybox")
}

#[dockhand::test]
async fn t(#[spec(spec())] name: String) {
    let _ = name;
}

fn main() {}
