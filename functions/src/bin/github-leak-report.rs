//! github-leak-report: POST /v1/leaks/github, GitHub's secret scanning partner endpoint

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis_runtime::run_endpoint(clavis_runtime::GithubEndpoint::LeakReport).await
}
