//! The hot functions of the token endpoint's secret check: the cheap checksum that turns away
//! garbage, and the argon2id verification it protects.

use std::hint::black_box;

use clavis_core::credential::Environment;
use clavis_core::secret::{ClientSecret, SecretHasher};
use criterion::{Criterion, criterion_group, criterion_main};

fn secrets(c: &mut Criterion) {
    let mut group = c.benchmark_group("secret");
    group.bench_function("generate", |b| {
        b.iter(|| ClientSecret::generate(black_box(Environment::Live)))
    });
    let secret = ClientSecret::generate(Environment::Live);
    let text = secret.expose().to_owned();
    group.bench_function("checksum_check", |b| {
        b.iter(|| ClientSecret::parse(black_box(&text)))
    });
    let mut typo = text.clone().into_bytes();
    typo[20] = if typo[20] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap_or_default();
    group.bench_function("checksum_reject", |b| {
        b.iter(|| ClientSecret::parse(black_box(&typo)))
    });
    group.finish();

    let hasher = SecretHasher::default();
    let hash = hasher.hash(&secret).expect("hash");
    let mut argon = c.benchmark_group("argon2id_owasp_default");
    argon.sample_size(20);
    argon.bench_function("verify", |b| {
        b.iter(|| assert!(hasher.verify(black_box(&secret), black_box(&hash))))
    });
    argon.bench_function("hash", |b| b.iter(|| hasher.hash(black_box(&secret))));
    argon.finish();
}

criterion_group!(benches, secrets);
criterion_main!(benches);
