//! Every mirror layout gives the engine the same listing: a PEP 503 simple index, a flat
//! wheel directory per variant, the single torch_stable.html page — against real HTTP
//! servers on 127.0.0.1 (tests/support/mirror.rs).

mod support;

use support::mirror::{Behaviour, Layout, MirrorServer, Wheel};
use torchup::compat::available::DataSource;
use torchup::compat::index::{IndexClient, IndexLayout, IndexOptions, PageFailure, hash_from};
use torchup::compat::tags::{CpuArch, InterpreterTags, compatible_files};
use torchup::facts::Os;

fn wheels() -> Vec<Wheel> {
    vec![
        Wheel::new("cu124", "torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl", b"PK\x03\x04 torch cu124 311"),
        Wheel::new("cu124", "torch-2.5.1+cu124-cp312-cp312-linux_x86_64.whl", b"PK\x03\x04 torch cu124 312"),
        Wheel::new("cu124", "torchvision-0.20.1+cu124-cp311-cp311-linux_x86_64.whl", b"PK\x03\x04 tv cu124"),
        Wheel::new("cu121", "torch-2.5.1+cu121-cp311-cp311-linux_x86_64.whl", b"PK\x03\x04 torch cu121"),
        Wheel::new("cpu", "torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl", b"PK\x03\x04 torch cpu"),
    ]
}

fn client(url: &str) -> IndexClient {
    IndexClient::new(IndexOptions { cache_dir: None, ..IndexOptions::new(url) }).unwrap()
}

fn cp311() -> InterpreterTags {
    InterpreterTags::new(3, 11, Os::Linux, CpuArch::X86_64)
}

/// What the engine does with any layout: the listing, then the files for this interpreter.
async fn files_for(c: &IndexClient, variant: &str) -> Vec<(String, String, Option<String>)> {
    let (listing, source) = c.listing(variant, "torch").await.unwrap();
    assert_eq!(source, DataSource::Index);
    compatible_files(&listing, &cp311()).map(|f| (f.filename.clone(), f.url.clone(), f.sha256.clone())).collect()
}

#[tokio::test]
async fn a_simple_index_lists_files_with_hashes() {
    let srv = MirrorServer::start(Layout::Simple, &wheels(), Behaviour::Normal);
    let c = client(&srv.index_url());
    let files = files_for(&c, "cu124").await;
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].0, "torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl");
    assert_eq!(files[0].2.as_deref(), Some(wheels()[0].sha256().as_str()));
    let info = c.layout_info();
    assert_eq!((info.layout, info.hashes), (Some(IndexLayout::SimpleHtml), Some(true)));
    assert!(matches!(c.listing("cu126", "torch").await, Err(PageFailure::NotFound { .. })));
}

#[tokio::test]
async fn a_flat_wheel_directory_per_variant_is_detected_and_read() {
    let srv = MirrorServer::start(Layout::Flat, &wheels(), Behaviour::Normal);
    let c = client(&srv.index_url());
    let files = files_for(&c, "cu124").await;
    assert_eq!(files.len(), 1, "{files:?}");
    let (name, url, sha) = &files[0];
    assert_eq!(name, "torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl");
    assert_eq!(url, &format!("{}/cu124/torch-2.5.1%2Bcu124-cp311-cp311-linux_x86_64.whl", srv.index_url()));
    assert_eq!(sha, &None);
    let info = c.layout_info();
    assert_eq!((info.layout, info.hashes), (Some(IndexLayout::FlatPerVariant), Some(false)));
    // torchvision from the same directory; a variant the mirror lacks is "not on the index".
    let (tv, _) = c.listing("cu124", "torchvision").await.unwrap();
    assert_eq!(tv.files.len(), 1);
    assert!(matches!(c.listing("cu126", "torch").await, Err(PageFailure::NotFound { .. })));
    let snap = c.snapshot(&["cu124".into(), "cu130".into()], &["torch", "torchvision"]).await;
    assert!(snap.listing("cu124", "torch").is_some());
    assert!(snap.is_not_found("cu130", "torch"));
    // The wheel URL serves the wheel itself.
    let got = reqwest::get(url.as_str()).await.unwrap().bytes().await.unwrap();
    assert_eq!(&got[..], &wheels()[0].body[..]);
}

#[tokio::test]
async fn the_single_torch_stable_page_is_split_by_variant() {
    let srv = MirrorServer::start(Layout::Stable, &wheels(), Behaviour::Normal);
    let c = client(&srv.index_url());
    let files = files_for(&c, "cu121").await;
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].0, "torch-2.5.1+cu121-cp311-cp311-linux_x86_64.whl");
    assert!(files[0].1.ends_with("/whl/cu121/torch-2.5.1%2Bcu121-cp311-cp311-linux_x86_64.whl"), "{}", files[0].1);
    assert_eq!(c.layout_info().layout, Some(IndexLayout::StablePage));
    assert!(matches!(c.listing("cu130", "torch").await, Err(PageFailure::NotFound { .. })));
    let found = c.discover_variants(&[]).await;
    assert_eq!(found.variants, ["cpu", "cu121", "cu124"]);
    // One page for everything: fetched once.
    assert_eq!(srv.requests().iter().filter(|r| r.ends_with("torch_stable.html")).count(), 1);
}

#[tokio::test]
async fn a_listing_without_hashes_gets_them_from_an_index_that_publishes_them() {
    let official = MirrorServer::start(Layout::Simple, &wheels(), Behaviour::Normal);
    let flat = MirrorServer::start(Layout::Flat, &wheels(), Behaviour::Normal);
    let (o, f) = (client(&official.index_url()), client(&flat.index_url()));
    let name = "torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl";
    assert_eq!(f.hash_for("cu124", name).await, None);
    let found = hash_from(&[&f, &o], "cu124", name).await.unwrap();
    assert_eq!(found.sha256, wheels()[0].sha256());
    assert_eq!(found.source, official.index_url());
    assert_eq!(hash_from(&[&f], "cu124", name).await, None, "none published: the fetcher checks RECORD");
}

#[tokio::test]
async fn pypi_lists_the_linux_wheels_of_the_releases_whose_default_is_the_variant() {
    let pypi = vec![
        Wheel::new("-", "torch-2.5.1-cp311-cp311-manylinux1_x86_64.whl", b"PK\x03\x04 2.5.1 cuda 12.4"),
        Wheel::new("-", "torch-2.5.1-cp311-cp311-win_amd64.whl", b"PK\x03\x04 2.5.1 windows cpu"),
        Wheel::new("-", "torch-2.7.0-cp311-cp311-manylinux_2_28_x86_64.whl", b"PK\x03\x04 2.7.0 cuda 12.6"),
        Wheel::new("-", "torchvision-0.20.1-cp311-cp311-manylinux1_x86_64.whl", b"PK\x03\x04 tv"),
    ];
    let srv = MirrorServer::start(Layout::Pypi, &pypi, Behaviour::Normal);
    let c = IndexClient::new(IndexOptions {
        cache_dir: None,
        layout: Some(IndexLayout::Pypi),
        ..IndexOptions::new(srv.index_url())
    })
    .unwrap();
    let files = files_for(&c, "cu124").await;
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].0, "torch-2.5.1-cp311-cp311-manylinux1_x86_64.whl", "the Windows wheel is a CPU build");
    assert!(files[0].2.is_some());
    assert_eq!(files_for(&c, "cu126").await[0].0, "torch-2.7.0-cp311-cp311-manylinux_2_28_x86_64.whl");
    assert!(matches!(c.listing("cu121", "torch").await, Err(PageFailure::NotFound { .. })));
    let (tv, _) = c.listing("cu124", "torchvision").await.unwrap();
    assert_eq!(tv.files.len(), 1);
    assert_eq!(c.layout_info().layout, Some(IndexLayout::Pypi));
    // No variant discovery on PyPI (its root lists every project): nothing is fetched.
    let before = srv.requests().len();
    assert!(c.discover_variants(&["cu134".into()]).await.variants.is_empty());
    assert_eq!(srv.requests().len(), before);
    // Pages were read once each.
    assert_eq!(srv.requests().iter().filter(|r| *r == "/simple/torch/").count(), 1);
}
