//! Mail and SMS an emulator "sent", read through its own inspection API. moto lists both in
//! `GET /moto-api/data.json`; LocalStack lists mail at `GET /_aws/ses` and SMS at
//! `GET /_aws/sns/sms-messages`. Which of the two serves an endpoint is asked of the endpoint,
//! so nothing needs configuring beyond the endpoint the SDK uses.

use serde_json::Value;

/// The region the harness's SDK clients use (`rft_aws::config::for_emulator`): LocalStack keeps
/// SMS per region and answers for `us-east-1` unless asked.
const REGION: &str = "eu-west-2";

/// An emulator whose inspection API this module reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emulator {
    /// moto server.
    Moto,
    /// LocalStack.
    LocalStack,
}

impl Emulator {
    /// Which emulator serves `endpoint`, by the inspection API it answers. moto is asked first:
    /// it answers 404 to LocalStack's health path, and LocalStack 404 to moto's data path.
    pub async fn at(endpoint: &str) -> Result<Emulator, String> {
        let moto = get_json(&format!("{endpoint}/moto-api/data.json")).await;
        if moto.is_ok() {
            return Ok(Emulator::Moto);
        }
        match get_json(&format!("{endpoint}/_localstack/health")).await {
            Ok(_) => Ok(Emulator::LocalStack),
            Err(localstack) => Err(format!(
                "{endpoint} is neither moto nor LocalStack, so what it sent cannot be read \
                 (moto: {}; LocalStack: {localstack})",
                moto.err().unwrap_or_default()
            )),
        }
    }
}

/// One email: the To addresses joined with commas, the subject, and the HTML part when there
/// is one, else the text (what moto keeps).
pub type Email = (String, String, String);

/// One SMS: the phone number and the text.
pub type Sms = (String, String);

/// What the emulator at one endpoint has sent.
#[derive(Clone, Debug)]
pub struct Sent {
    emulator: Emulator,
    endpoint: String,
}

impl Sent {
    /// A reader for the emulator at `endpoint`; `Err` if it is neither moto nor LocalStack.
    pub async fn at(endpoint: &str) -> Result<Sent, String> {
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        Ok(Sent { emulator: Emulator::at(&endpoint).await?, endpoint })
    }

    /// Which emulator this reads.
    pub fn emulator(&self) -> Emulator {
        self.emulator
    }

    /// Every email sent so far, oldest first.
    pub async fn emails(&self) -> Vec<Email> {
        match self.emulator {
            Emulator::Moto => moto_emails(&self.get("/moto-api/data.json").await),
            Emulator::LocalStack => localstack_emails(&self.get("/_aws/ses").await),
        }
    }

    /// Every SMS sent so far (LocalStack groups them by phone number).
    pub async fn sms(&self) -> Vec<Sms> {
        match self.emulator {
            Emulator::Moto => moto_sms(&self.get("/moto-api/data.json").await),
            Emulator::LocalStack => localstack_sms(&self.get(&format!("/_aws/sns/sms-messages?region={REGION}")).await),
        }
    }

    async fn get(&self, path: &str) -> Value {
        get_json(&format!("{}{path}", self.endpoint)).await.unwrap_or_else(|e| panic!("{:?}: {e}", self.emulator))
    }
}

/// Prepares the SES v2 emulator at `endpoint` to send from `from` and returns a reader for what
/// it sends; `Err` says why mail cannot be used there. LocalStack's community edition answers
/// every SES v2 call 501 Not Implemented; any other refusal is a fault of the harness or the
/// emulator, and fails the test.
pub async fn mail(endpoint: &str, from: &str) -> Result<Sent, String> {
    let ses = aws_sdk_sesv2::Client::new(&rft_aws::config::for_emulator(endpoint).await);
    match ses.create_email_identity().email_identity(from).send().await {
        Ok(_) => Sent::at(endpoint).await.map_err(|e| format!("mail is sent but cannot be read back: {e}")),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 501) => {
            let said = e.as_service_error().and_then(|s| s.meta().message()).unwrap_or("no message").to_owned();
            Err(format!("the emulator at {endpoint} cannot send SES v2 mail (501 Not Implemented: {said})"))
        }
        Err(e) => panic!(
            "create the SES v2 identity {from} on the emulator at {endpoint}: {}",
            aws_sdk_sesv2::error::DisplayErrorContext(e)
        ),
    }
}

/// What `now` lists beyond `before`, one for one: what was sent since `before` was read. The
/// emulators only ever add to what they list (LocalStack groups SMS by number, so the order may
/// change), and an emulator you started keeps everything it sent since, so a test compares
/// against what was there when it began.
pub fn since<T: PartialEq>(now: Vec<T>, before: &[T]) -> Vec<T> {
    let mut left: Vec<&T> = before.iter().collect();
    now.into_iter()
        .filter(|item| match left.iter().position(|b| *b == item) {
            Some(i) => {
                left.swap_remove(i);
                false
            }
            None => true,
        })
        .collect()
}

/// GETs JSON from an emulator on loopback.
async fn get_json(url: &str) -> Result<Value, String> {
    let client = rft_http::store_client::http_client()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| format!("build an HTTP client: {e}"))?;
    let response = client.get(url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET {url}: {status}"));
    }
    response.json().await.map_err(|e| format!("GET {url}: the answer is not JSON: {e}"))
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn joined(addresses: &Value) -> String {
    addresses.as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")).unwrap_or_default()
}

fn moto_emails(data: &Value) -> Vec<Email> {
    let messages = data["ses"]["Message"].as_array().cloned().unwrap_or_default();
    messages
        .iter()
        .map(|m| (joined(&m["destinations"]["ToAddresses"]), text(&m["subject"]), text(&m["body"])))
        .collect()
}

fn localstack_emails(data: &Value) -> Vec<Email> {
    let messages = data["messages"].as_array().cloned().unwrap_or_default();
    messages
        .iter()
        .map(|m| {
            let body = &m["Body"];
            let part = if body["html_part"].is_string() { &body["html_part"] } else { &body["text_part"] };
            (joined(&m["Destination"]["ToAddresses"]), text(&m["Subject"]), text(part))
        })
        .collect()
}

fn moto_sms(data: &Value) -> Vec<Sms> {
    let messages = data["sns"]["SMS"].as_array().cloned().unwrap_or_default();
    messages.iter().map(|m| (text(&m["phone_number"]), text(&m["message"]))).collect()
}

fn localstack_sms(data: &Value) -> Vec<Sms> {
    let by_phone = data["sms_messages"].as_object().cloned().unwrap_or_default();
    by_phone
        .values()
        .flat_map(|messages| messages.as_array().cloned().unwrap_or_default())
        .map(|m| (text(&m["PhoneNumber"]), text(&m["Message"])))
        .collect()
}

#[cfg(test)]
mod tests {
    use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
    use serde_json::json;

    use super::*;
    use crate::backends::{Service, endpoint};

    fn utf8(text: &str) -> Content {
        Content::builder().data(text).build().expect("content builds")
    }

    #[test]
    fn since_leaves_out_what_was_there_before_one_for_one() {
        let before = ["a", "b", "a"];
        assert_eq!(since(vec!["b", "a", "c", "a", "a"], &before), ["c", "a"]);
        assert_eq!(since(vec!["a"], &[]), ["a"]);
    }

    /// What this module reads back is what was sent, on whichever emulator serves SNS.
    #[tokio::test]
    async fn reads_back_an_sms_sent_through_the_emulator() {
        let at = endpoint(Service::Sns);
        let sns = aws_sdk_sns::Client::new(&rft_aws::config::for_emulator(&at).await);
        let text = format!("Thanks! {}", rft_core::ids::random_base32());
        sns.publish().phone_number("+447700900999").message(&text).send().await.expect("SNS publishes an SMS");
        let sent = Sent::at(&at).await.expect("a known emulator");
        assert!(sent.sms().await.contains(&("+447700900999".into(), text)), "{:?}", sent.emulator());
    }

    /// The same for mail, on whichever emulator serves SES v2, where it can send mail.
    #[tokio::test]
    async fn reads_back_an_email_sent_through_the_emulator() {
        let at = endpoint(Service::SesV2);
        let sent = match mail(&at, "hello@freshbox.uk").await {
            Ok(sent) => sent,
            Err(reason) => return crate::skip::skip(&reason),
        };
        let subject = format!("Dan thinks you'd like FreshBox {}", rft_core::ids::random_base32());
        let body = Body::builder().text(utf8("Hi Kim")).html(utf8("<p>Hi Kim</p>")).build();
        aws_sdk_sesv2::Client::new(&rft_aws::config::for_emulator(&at).await)
            .send_email()
            .from_email_address("hello@freshbox.uk")
            .destination(Destination::builder().to_addresses("kim@example.com").build())
            .content(
                EmailContent::builder().simple(Message::builder().subject(utf8(&subject)).body(body).build()).build(),
            )
            .send()
            .await
            .expect("SES v2 sends");
        let expected = ("kim@example.com".to_owned(), subject, "<p>Hi Kim</p>".to_owned());
        assert!(sent.emails().await.contains(&expected), "{:?}", sent.emulator());
    }

    // The answers below were captured from moto server 5.2.5 (an SES v2 email and an SMS) and
    // LocalStack 2026.3.0 (an SES v1 email, since its community edition has no SES v2, and an
    // SMS), trimmed of ids.

    #[test]
    fn reads_moto_s_mail_and_sms() {
        let data = json!({
            "ses": {"Message": [{"body": "<p>Hi Kim</p>", "destinations": {"ToAddresses": ["kim@example.com"]},
                "source": "hello@freshbox.uk", "subject": "Dan thinks you'd like FreshBox"}]},
            "sns": {"SMS": [{"message": "Thanks so much!", "phone_number": "+447700900123"}]}
        });
        assert_eq!(
            moto_emails(&data),
            [("kim@example.com".into(), "Dan thinks you'd like FreshBox".into(), "<p>Hi Kim</p>".into())]
        );
        assert_eq!(moto_sms(&data), [("+447700900123".into(), "Thanks so much!".into())]);
    }

    #[test]
    fn reads_localstack_s_mail_and_sms() {
        let mail = json!({"messages": [{"Region": "eu-west-2", "Destination": {"ToAddresses": ["kim@example.com"]},
            "Source": "hello@freshbox.uk", "Subject": "Dan thinks you'd like FreshBox",
            "Body": {"text_part": "Hi Kim, plain", "html_part": "<p>Hi Kim</p>"}}]});
        assert_eq!(
            localstack_emails(&mail),
            [("kim@example.com".into(), "Dan thinks you'd like FreshBox".into(), "<p>Hi Kim</p>".into())]
        );
        let text_only = json!({"messages": [{"Destination": {"ToAddresses": ["a@example.com", "b@example.com"]},
            "Subject": "s", "Body": {"text_part": "plain", "html_part": null}}]});
        assert_eq!(localstack_emails(&text_only), [("a@example.com,b@example.com".into(), "s".into(), "plain".into())]);
        let sms = json!({"sms_messages": {"+447700900123": [{"PhoneNumber": "+447700900123", "TopicArn": null,
            "Message": "Thanks so much!", "MessageAttributes": {}, "Subject": null}]}, "region": "eu-west-2"});
        assert_eq!(localstack_sms(&sms), [("+447700900123".into(), "Thanks so much!".into())]);
    }
}
