//! Small helpers over `roxmltree` for the XML APIs (Namecheap, Dynadot API3).
//!
//! Element names are matched by local name and without regard to case: Namecheap's live
//! API and its documentation disagree on the case of some elements.

use roxmltree::{Document, Node};

/// Returns the first descendant of `node` (itself included) named `name`.
pub(crate) fn find<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    node.descendants()
        .find(|child| child.is_element() && child.tag_name().name().eq_ignore_ascii_case(name))
}

/// Returns every descendant of `node` named `name`, in document order.
pub(crate) fn find_all<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Vec<Node<'a, 'input>> {
    node.descendants()
        .filter(|child| child.is_element() && child.tag_name().name().eq_ignore_ascii_case(name))
        .collect()
}

/// Returns the trimmed text of the first descendant named `name`.
pub(crate) fn text_of(node: Node<'_, '_>, name: &str) -> Option<String> {
    find(node, name).map(|found| text(found))
}

/// Returns the trimmed text content of `node`.
pub(crate) fn text(node: Node<'_, '_>) -> String {
    node.descendants()
        .filter(|child| child.is_text())
        .filter_map(|child| child.text())
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Returns an attribute by name, without regard to case.
pub(crate) fn attribute<'a>(node: Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.attributes()
        .find(|attribute| attribute.name().eq_ignore_ascii_case(name))
        .map(|attribute| attribute.value())
}

/// Parses a document, or returns `None` when the text is not XML.
pub(crate) fn parse(text: &str) -> Option<Document<'_>> {
    Document::parse(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_ignore_namespace_and_case() {
        let input = r#"<ApiResponse Status="OK" xmlns="http://api.namecheap.com/xml.response">
            <CommandResponse><R Domain="a.b"><host>x</host><Host> y </Host></R></CommandResponse></ApiResponse>"#;
        let doc = parse(input).expect("XML");
        let root = doc.root_element();
        assert_eq!(attribute(root, "status"), Some("OK"));
        let hosts: Vec<String> = find_all(root, "HOST").into_iter().map(text).collect();
        assert_eq!(hosts, ["x", "y"]);
        assert_eq!(find(root, "r").and_then(|r| attribute(r, "domain")), Some("a.b"));
        assert_eq!(text_of(root, "missing"), None);
        assert!(parse("not xml <").is_none());
    }
}
