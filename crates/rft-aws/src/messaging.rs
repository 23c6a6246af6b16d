//! Email through SES (v2) and SMS through SNS.

use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageHeader};

use rft_core::ports::{Channel, MessageError, Messenger, OutboundMessage};

/// Sends email with SES and SMS with SNS.
#[derive(Clone, Debug)]
pub struct AwsMessenger {
    ses: aws_sdk_sesv2::Client,
    sns: Option<aws_sdk_sns::Client>,
    from: String,
}

impl AwsMessenger {
    /// A messenger sending email from `from`; `sns` is needed only by functions that text.
    pub fn new(ses: aws_sdk_sesv2::Client, sns: Option<aws_sdk_sns::Client>, from: impl Into<String>) -> Self {
        AwsMessenger { ses, sns, from: from.into() }
    }
}

fn utf8(text: &str) -> Result<Content, aws_sdk_sesv2::error::BuildError> {
    Content::builder().data(text).charset("UTF-8").build()
}

#[async_trait]
impl Messenger for AwsMessenger {
    async fn send(&self, message: &OutboundMessage) -> Result<(), MessageError> {
        let fail = |e: Box<dyn std::error::Error + Send + Sync>| MessageError { kind: message.kind, source: e };
        match message.channel {
            Channel::Email => {
                let mut body = Body::builder().text(utf8(&message.body).map_err(|e| fail(e.into()))?);
                if let Some(html) = &message.html {
                    body = body.html(utf8(html).map_err(|e| fail(e.into()))?);
                }
                let mut simple =
                    Message::builder().subject(utf8(&message.subject).map_err(|e| fail(e.into()))?).body(body.build());
                if let Some(url) = &message.unsubscribe {
                    // RFC 8058: mail clients offer "unsubscribe" and POST the one-click body to it.
                    for (name, value) in [
                        ("List-Unsubscribe", format!("<{url}>")),
                        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".to_owned()),
                    ] {
                        let header = MessageHeader::builder().name(name).value(value).build();
                        simple = simple.headers(header.map_err(|e| fail(e.into()))?);
                    }
                }
                let content = EmailContent::builder().simple(simple.build()).build();
                self.ses
                    .send_email()
                    .from_email_address(&self.from)
                    .destination(Destination::builder().to_addresses(&message.to).build())
                    .content(content)
                    .send()
                    .await
                    .map_err(|e| fail(e.into()))?;
            }
            Channel::Sms => {
                let sns = self.sns.as_ref().ok_or_else(|| fail("this function does not send SMS".into()))?;
                sns.publish()
                    .phone_number(&message.to)
                    .message(&message.body)
                    .message_attributes(
                        "AWS.SNS.SMS.SMSType",
                        aws_sdk_sns::types::MessageAttributeValue::builder()
                            .data_type("String")
                            .string_value("Transactional")
                            .build()
                            .map_err(|e| fail(e.into()))?,
                    )
                    .send()
                    .await
                    .map_err(|e| fail(e.into()))?;
            }
        }
        Ok(())
    }
}
