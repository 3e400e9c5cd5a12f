package engine

// ProviderEvents lists, per provider, the event names a state's outcome_overrides may name: the
// events each provider can report about a work item (reference/providers.md A5, B6).
var ProviderEvents = map[Provider][]string{
	ProviderDocuSign: {
		"envelope-sent", "envelope-resent", "envelope-delivered", "envelope-completed",
		"envelope-declined", "envelope-voided", "envelope-corrected", "envelope-purge",
		"envelope-deleted", "envelope-discard",
		"recipient-sent", "recipient-resent", "recipient-delivered", "recipient-completed",
		"recipient-declined", "recipient-autoresponded", "recipient-authenticationfailed",
		"recipient-reassign", "recipient-delegate", "recipient-finish-later",
	},
	ProviderOneSpan: {
		"DOCUMENT_SIGNED", "DOCUMENT_VIEWED", "EMAIL_BOUNCE", "KBA_FAILURE", "PACKAGE_ACTIVATE",
		"PACKAGE_ARCHIVE", "PACKAGE_ATTACHMENT", "PACKAGE_COMPLETE", "PACKAGE_CREATE",
		"PACKAGE_DEACTIVATE", "PACKAGE_DECLINE", "PACKAGE_DELETE", "PACKAGE_DELETED",
		"PACKAGE_EXPIRE", "PACKAGE_OPT_OUT", "PACKAGE_READY_FOR_COMPLETE", "PACKAGE_RESTORE",
		"PACKAGE_TRASH", "ROLE_REASSIGN", "SIGNER_COMPLETE", "SIGNER_LOCKED",
	},
}

func knownEvent(p Provider, name string) bool {
	for _, e := range ProviderEvents[p] {
		if e == name {
			return true
		}
	}
	return false
}
