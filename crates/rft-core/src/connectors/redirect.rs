//! Where a live code's visitor is sent, by how the store is connected. Built only from the
//! settings, the token and the code, never from the request: no open redirect.
//!
//! - `webhooks`: the landing URL with `rft` and the UTM parameters
//!   ([`crate::links::landing_url`]).
//! - `stripe`: the same URL (a Payment Link or Checkout page) plus
//!   `client_reference_id=<token>`, which Stripe copies onto the Checkout Session and so onto
//!   `checkout.session.completed`, and `prefilled_promo_code=<CODE>`, which puts the friend's
//!   discount in the promotion code box.
//! - `shopify`: `<origin of landing_url>/discount/<CODE>?redirect=<path and query of the
//!   landing URL with rft and UTM>`: Shopify applies the discount to the cart, then sends the
//!   visitor on to the page, whose URL is recorded as the order's `landing_site`. The origin
//!   keeps the landing URL's scheme and port (https for any real storefront), so a local demo
//!   shop on `http://127.0.0.1:3000` works too.

use url::Url;

use crate::code::Code;
use crate::ids::Token;
use crate::links::landing_url;
use crate::settings::{Settings, StoreKind};

/// The `Location` for a visit to a live code.
pub fn destination(settings: &Settings, token: &Token, code: &Code) -> Url {
    let landing = landing_url(&settings.links.landing_url, token, code);
    match settings.store.kind {
        StoreKind::Webhooks => landing,
        StoreKind::Stripe => {
            let mut url = landing;
            url.query_pairs_mut()
                .append_pair("client_reference_id", token.as_str())
                .append_pair("prefilled_promo_code", code.as_str());
            url
        }
        StoreKind::Shopify => {
            let mut path_and_query = landing.path().to_owned();
            if let Some(q) = landing.query() {
                path_and_query.push('?');
                path_and_query.push_str(q);
            }
            let mut url = landing;
            url.set_query(None);
            url.set_fragment(None);
            // Codes are from a fixed alphabet of capitals and digits: safe as a path segment.
            url.set_path(&format!("/discount/{}", code.as_str()));
            url.query_pairs_mut().append_pair("redirect", &path_and_query);
            url
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../../settings.example.toml");
    const TOKEN: &str = "7k3m9q2x4v6b8n1c5d0f2g4h6j";

    fn settings(store: &str, landing: &str) -> Settings {
        let without_kind: String =
            EXAMPLE.lines().filter(|l| !l.starts_with("kind = \"webhooks\"")).collect::<Vec<_>>().join("\n");
        let text = without_kind
            .replacen("reward_url = \"https://api.freshbox.uk/referral-rewards\"", store, 1)
            .replacen("landing_url = \"https://freshbox.uk/signup\"", &format!("landing_url = \"{landing}\""), 1);
        Settings::parse(&text).unwrap()
    }

    fn go(store: &str, landing: &str) -> String {
        let s = settings(store, landing);
        destination(&s, &Token::parse(TOKEN).unwrap(), &Code::parse("7QK2A9").unwrap()).to_string()
    }

    const UTM: &str = "utm_source=referral&utm_medium=referral&utm_campaign=7QK2A9";

    #[test]
    fn webhooks_stores_get_todays_landing_url() {
        let store = "reward_url = \"https://api.freshbox.uk/referral-rewards\"";
        assert_eq!(
            go(store, "https://freshbox.uk/signup?lang=en"),
            format!("https://freshbox.uk/signup?lang=en&rft={TOKEN}&{UTM}")
        );
    }

    #[test]
    fn stripe_payment_links_get_the_token_and_the_code_prefilled() {
        assert_eq!(
            go("kind = \"stripe\"", "https://buy.stripe.com/test_eVa16Q1Vd7yU1Ne8ww"),
            format!(
                "https://buy.stripe.com/test_eVa16Q1Vd7yU1Ne8ww?rft={TOKEN}&{UTM}\
                 &client_reference_id={TOKEN}&prefilled_promo_code=7QK2A9"
            )
        );
    }

    #[test]
    fn shopify_goes_through_the_discount_path_back_to_the_landing_page() {
        let store = "kind = \"shopify\"\n[store.shopify]\nshop = \"freshbox.myshopify.com\"";
        let url = go(store, "https://freshbox.uk/collections/boxes?sort=new");
        assert_eq!(
            url,
            format!(
                "https://freshbox.uk/discount/7QK2A9?redirect=%2Fcollections%2Fboxes%3Fsort%3Dnew%26rft%3D{TOKEN}\
                 %26utm_source%3Dreferral%26utm_medium%3Dreferral%26utm_campaign%3D7QK2A9"
            )
        );
        // The order's landing_site then carries the token inside redirect=.
        let parsed = Url::parse(&url).unwrap();
        let landing_site = format!("{}?{}", parsed.path(), parsed.query().unwrap());
        assert_eq!(crate::connectors::shopify::landing_token(&landing_site).unwrap().as_str(), TOKEN);
        // A local demo keeps its scheme and port.
        assert!(
            go(store, "http://127.0.0.1:3000/demo/shop")
                .starts_with("http://127.0.0.1:3000/discount/7QK2A9?redirect=%2Fdemo%2Fshop%3Frft%3D")
        );
    }
}
