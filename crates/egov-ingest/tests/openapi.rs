//! `schemas/openapi.json` is kept equal to the code: its event schemas are the
//! files of `schemas/v1`, its codes and statuses are those the code answers
//! with, and its paths are exactly the routes the ingest router serves.

use axum::http::{header, HeaderMap, HeaderValue};
use egov_ingest::body::{Encoding, Format};
use egov_ingest::error::ApiError;
use egov_ingest::{routes, Ingest, OPENAPI_JSON};
use egov_model::contract::ErrorCode;
use egov_model::EventType;
use egov_runtime::config::Settings;
use egov_runtime::ops::Readiness;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn openapi() -> anyhow::Result<Value> {
    Ok(serde_json::from_str(OPENAPI_JSON)?)
}

/// A schema file of `schemas/v1` without its `$schema` and `$id`, which an
/// OpenAPI component does not carry.
fn schema_file(relative: &str) -> anyhow::Result<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas/v1")
        .join(relative);
    let mut schema: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        object.remove("$id");
    }
    Ok(schema)
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The ingest router on a free port (the producer is only created: nothing
/// here needs Kafka), and its base URL.
async fn serve() -> anyhow::Result<(String, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let mut settings = Settings::default();
    settings.ingest.dev_tokens = true;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .build_recorder()
        .handle();
    let ingest = Ingest::new(
        &settings.ingest_config(),
        Some(metrics),
        Readiness::always(),
    )?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, ingest.router()).await });
    Ok((base, server))
}

#[tokio::test]
async fn documented_security_is_the_one_the_router_asks_for() -> anyhow::Result<()> {
    let doc = openapi()?;
    assert_eq!(doc["openapi"], "3.1.0");
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert_eq!(schemes.keys().collect::<Vec<_>>(), ["bearer"], "one scheme");
    let bearer = &schemes["bearer"];
    assert_eq!(bearer["type"], "http");
    let scheme = bearer["scheme"].as_str().unwrap_or_default();
    assert!(
        bearer["description"]
            .as_str()
            .is_some_and(|d| !d.trim().is_empty()),
        "the bearer scheme says what a token is"
    );
    let post = &doc["paths"]["/v1/events"]["post"];
    assert_eq!(post["security"], json!([{"bearer": []}]));

    // The router refuses a request without a token with the documented 401,
    // naming the documented scheme, whatever the body.
    let (base, server) = serve().await?;
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/events"))
        .header("content-type", "application/json")
        .body("[]")
        .send()
        .await?;
    assert_eq!(response.status(), 401);
    assert!(post["responses"]["401"].is_object(), "401 is documented");
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        !scheme.is_empty() && challenge.eq_ignore_ascii_case(scheme),
        "the router asks for `{challenge}`, the document says `{scheme}`"
    );
    server.abort();
    Ok(())
}

#[test]
fn documented_media_types_are_those_the_body_reader_takes() -> anyhow::Result<()> {
    let doc = openapi()?;
    let body = &doc["paths"]["/v1/events"]["post"]["requestBody"]["content"];
    let documented: Vec<&str> = body
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let format_of = |content_type: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(content_type)?);
        anyhow::Ok(Encoding::of(&headers).map(|e| e.format).ok())
    };
    // Each format the reader has is documented under its canonical name, and
    // each documented name is read as that format.
    let mut formats = Vec::new();
    for content_type in &documented {
        let format = format_of(content_type)?;
        assert!(format.is_some(), "{content_type} is documented but refused");
        formats.push(format);
    }
    for format in [Format::Json, Format::Ndjson] {
        assert_eq!(
            formats.iter().filter(|f| **f == Some(format)).count(),
            1,
            "{format:?} documented once: {documented:?}"
        );
    }
    let refused = &doc["paths"]["/v1/events"]["post"]["responses"]["415"];
    assert!(refused.is_object(), "415 is documented");
    assert_eq!(format_of("text/plain")?, None);
    Ok(())
}

#[test]
fn event_schemas_are_the_files_of_schemas_v1() -> anyhow::Result<()> {
    let doc = openapi()?;
    let components = &doc["components"]["schemas"];
    assert_eq!(
        components["Event"],
        schema_file("envelope.schema.json")?,
        "components.schemas.Event must equal schemas/v1/envelope.schema.json without $schema and $id"
    );
    let documented = strings(&components["Event"]["properties"]["event_type"]["enum"]);
    let code: Vec<String> = EventType::ALL
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    assert_eq!(documented, code, "the event types are EventType::ALL");
    for event_type in EventType::ALL {
        let name = format!("payload.{}", event_type.as_str());
        assert_eq!(
            components[&name],
            schema_file(&format!("payload/{}.schema.json", event_type.as_str()))?,
            "components.schemas.{name} must equal its file in schemas/v1/payload"
        );
    }
    let payloads = components
        .as_object()
        .map(|o| o.keys().filter(|k| k.starts_with("payload.")).count())
        .unwrap_or(0);
    assert_eq!(payloads, EventType::ALL.len());
    Ok(())
}

#[test]
fn per_event_codes_are_the_contracts() -> anyhow::Result<()> {
    let all = [
        ErrorCode::Invalid,
        ErrorCode::Forbidden,
        ErrorCode::UnknownUnit,
        ErrorCode::DuplicateInRequest,
    ];
    // No wildcard: a new code makes this test fail to compile until listed above.
    for code in all {
        match code {
            ErrorCode::Invalid
            | ErrorCode::Forbidden
            | ErrorCode::UnknownUnit
            | ErrorCode::DuplicateInRequest => {}
        }
    }
    let doc = openapi()?;
    let documented: BTreeSet<String> =
        strings(&doc["components"]["schemas"]["EventError"]["properties"]["code"]["enum"])
            .into_iter()
            .collect();
    let code: BTreeSet<String> = all.iter().map(|c| c.as_str().to_owned()).collect();
    assert_eq!(documented, code);
    Ok(())
}

#[test]
fn documented_statuses_and_error_codes_are_those_the_code_answers() -> anyhow::Result<()> {
    let doc = openapi()?;
    let responses = &doc["paths"]["/v1/events"]["post"]["responses"];
    let documented: BTreeSet<u16> = responses
        .as_object()
        .map(|o| o.keys().filter_map(|k| k.parse().ok()).collect())
        .unwrap_or_default();
    let mut by_status: BTreeMap<u16, BTreeSet<String>> = BTreeMap::new();
    for error in ApiError::examples() {
        by_status
            .entry(error.status().as_u16())
            .or_default()
            .insert(error.code().to_owned());
        let status = error.status().as_u16().to_string();
        let headers = &responses[&status]["headers"];
        assert_eq!(
            headers.get("Retry-After").is_some(),
            error.retry_after_s().is_some(),
            "Retry-After of {status}"
        );
        assert!(headers.get("X-Request-Id").is_some(), "{status}");
    }
    let mut code_statuses: BTreeSet<u16> = by_status.keys().copied().collect();
    code_statuses.insert(200);
    assert_eq!(documented, code_statuses, "documented statuses");
    for (status, codes) in &by_status {
        let schema = &responses[status.to_string()]["content"]["application/json"]["schema"];
        let documented: BTreeSet<String> =
            strings(&schema["allOf"][1]["properties"]["error"]["enum"])
                .into_iter()
                .collect();
        assert_eq!(&documented, codes, "error codes of {status}");
        assert_eq!(schema["allOf"][0]["$ref"], "#/components/schemas/Error");
    }
    let all: BTreeSet<String> = by_status.into_values().flatten().collect();
    let documented: BTreeSet<String> =
        strings(&doc["components"]["schemas"]["Error"]["properties"]["error"]["enum"])
            .into_iter()
            .collect();
    assert_eq!(documented, all);
    Ok(())
}

/// The documented (method, path) pairs.
fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
            routes.insert((method.clone(), path.clone()));
        }
    }
    routes
}

#[tokio::test]
async fn every_route_is_documented_and_served() -> anyhow::Result<()> {
    let doc = openapi()?;
    let served: BTreeSet<(String, String)> = routes()
        .into_iter()
        .map(|(method, path)| (method.to_owned(), path.to_owned()))
        .collect();
    assert_eq!(documented_routes(&doc), served);

    // The router answers every one of them, and nothing else.
    let (base, server) = serve().await?;
    let http = reqwest::Client::new();
    for (method, path) in &served {
        let url = format!("{base}{path}");
        let response = match method.as_str() {
            "get" => http.get(&url).send().await?,
            "post" => http.post(&url).send().await?,
            other => anyhow::bail!("undocumented method {other}"),
        };
        let status = response.status().as_u16().to_string();
        let documented = &doc["paths"][path][method]["responses"][&status];
        assert!(
            documented.is_object(),
            "{method} {path} answered {status}, which is not documented"
        );
    }
    let status = http.get(format!("{base}/v2/events")).send().await?.status();
    assert_eq!(status, 404);
    let served_doc: Value = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(served_doc, doc);
    server.abort();
    Ok(())
}
