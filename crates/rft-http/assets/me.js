// placeholder until the page script lands
